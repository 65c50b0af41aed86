using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>
/// Which network output is which class: by name when the network's class names are given, by key position otherwise, and a
/// detectable mismatch (numbered classes in another order, names that do not match) refused with both orders named.
/// </summary>
public class ClassOrderTests
{
    private sealed class Scored
    {
        [VectorType(3)]
        public float[] Score { get; set; } = Array.Empty<float>();

        [VectorType(3)]
        public float[] Variance { get; set; } = Array.Empty<float>();

        public string PredictedClass { get; set; } = "";
    }

    private sealed class Name
    {
        public string Class { get; set; } = "";
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml, string[] keyOrder, NtkMulticlassTrainer.Options options) =>
        ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class), keyData: ml.Data.LoadFromEnumerable(keyOrder.Select(k => new Name { Class = k })))
            .Append(ml.MulticlassClassification.Trainers.Ntk(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));

    [Fact]
    public void OutputClassNamesMatchKeysToOutputsByNameWhateverTheKeyOrder()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var network = NtkTestData.Mlp(folder, outputs: 3);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(20, seed: 5));
        string[] outputs = { "east", "north", "west" }, arrival = { "west", "east", "north" };

        var byOutput = ml.Data.CreateEnumerable<Scored>(Pipeline(ml, outputs, new() { Network = network }).Fit(train).Transform(test), false).ToArray();
        var model = Pipeline(ml, arrival, new() { Network = network, OutputClassNames = outputs }).Fit(train);
        var scored = model.Transform(test);
        var byName = ml.Data.CreateEnumerable<Scored>(scored, false).ToArray();

        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        scored.Schema["PredictedLabel"].GetKeyValues(ref keyValues);
        Assert.Equal(arrival, keyValues.DenseValues().Select(v => v.ToString()));          // Score slot k is key value k
        for (int row = 0; row < byName.Length; row++)
        {
            for (int slot = 0; slot < 3; slot++)
            {
                int output = Array.IndexOf(outputs, arrival[slot]);
                Assert.Equal(byOutput[row].Score[output], byName[row].Score[slot]);
                Assert.Equal(byOutput[row].Variance[output], byName[row].Variance[slot]);
            }
            Assert.Equal(byOutput[row].PredictedClass, byName[row].PredictedClass);
        }

        string path = Path.Combine(folder.Path, "by-name.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = ml.Data.CreateEnumerable<Scored>(new MLContext().Model.Load(path, out _).Transform(test), false).ToArray();
        Assert.Equal(byName.SelectMany(r => r.Score), loaded.SelectMany(r => r.Score));
        Assert.Equal(byName.Select(r => r.PredictedClass), loaded.Select(r => r.PredictedClass));
    }

    [Fact]
    public void NumberedClassesInAnotherOrderAreRefusedWithBothOrders()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var rows = NtkTestData.Classes(30, seed: 4).Select(r => new ClassRow { Features = r.Features, Class = r.Class switch { "east" => "2", "north" => "0", _ => "1" } });
        var train = ml.Data.LoadFromEnumerable(rows);
        var byArrival = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3)));
        var error = Assert.Throws<ArgumentException>(() => byArrival.Fit(train));
        Assert.Contains("numbers its classes ['2', '0', '1']", error.Message);
        Assert.Contains("['0', '1', '2']", error.Message);
        Assert.Contains("KeyOrdinality.ByValue", error.Message);

        var byValue = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class), keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3)));
        Assert.NotNull(byValue.Fit(train));
    }

    [Fact]
    public void OutputClassNamesThatDoNotMatchTheLabelAreRefused()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 4));
        var options = new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), OutputClassNames = new[] { "east", "north", "south" } };
        var error = Assert.Throws<ArgumentException>(() => Pipeline(ml, new[] { "east", "north", "west" }, options).Fit(train));
        Assert.Contains("['east', 'north', 'west']", error.Message);
        Assert.Contains("['east', 'north', 'south']", error.Message);
        Assert.Contains("'west'", error.Message);
    }
}
