using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;
using TorchSharp;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>The network kinds inside saved models, and damaged, foreign or newer models.</summary>
public class ModelStateTests : IDisposable
{
    private readonly TemporaryFolder folder = new();
    private readonly MLContext ml = new(seed: 1);

    public void Dispose() => folder.Dispose();

    private sealed class ThreeFeatures
    {
        [VectorType(3)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public uint Label { get; set; }
    }

    private IDataView ThreeFeatureClasses(int count, int seed)
    {
        var random = new Random(seed);
        var rows = Enumerable.Range(0, count).Select(_ =>
        {
            var x = Enumerable.Range(0, 3).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            return new ThreeFeatures { Features = x, Label = x[0] + x[1] > x[2] ? 1u : 2u };
        }).ToArray();
        return ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
    }

    private static string Scores(MLContext context, ITransformer model, IDataView data) =>
        string.Join(";", context.Data.CreateEnumerable<TwoScores>(model.Transform(data), reuseRowObject: false)
                                     .Select(r => string.Join(",", r.Score.Select(BitConverter.SingleToInt32Bits))));

    private sealed class TwoScores
    {
        [VectorType(2)]
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private string SaveAndReload(ITransformer model, IDataView data, out ITransformer loaded)
    {
        string path = Path.Combine(folder.Path, Guid.NewGuid().ToString("N") + ".zip");
        ml.Model.Save(model, data.Schema, path);
        loaded = new MLContext().Model.Load(path, out _);
        return path;
    }

    [Fact]
    public void ATorchScriptNetworkIsSavedInsideTheModel()
    {
        var network = PretrainedNetwork.FromTorchScript(Linearization.TestNetworks.Fixture("mlp_tanh.torchscript.pt"));
        var train = ThreeFeatureClasses(30, seed: 1);
        var model = ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = network, Likelihood = ClassificationLikelihood.Gaussian }).Fit(train);
        SaveAndReload(model, train, out var loaded);
        var test = ThreeFeatureClasses(10, seed: 2);
        string first = Scores(ml, model, test);
        Assert.Equal(first, Scores(ml, model, test));    // repeated predictions take the same route
        Assert.Equal(first, Scores(ml, loaded, test));
    }

    [Fact]
    public void AFactoryNetworkNeedsItsFactoryWhenTheModelIsUsed()
    {
        const string name = "tests.model-state-factory";
        PretrainedNetwork.RegisterFactory(name, () => torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)));
        string weights = Path.Combine(folder.Path, "factory.bin");
        torch.manual_seed(3);
        PretrainedNetwork.CreateFromFactory(name).save(weights);
        var train = ThreeFeatureClasses(30, seed: 1);
        var model = ml.MulticlassClassification.Trainers.Ntk(PretrainedNetwork.FromFactory(name, weights)).Fit(train);
        var test = ThreeFeatureClasses(10, seed: 2);
        string expected = Scores(ml, model, test);
        try
        {
            PretrainedNetwork.UnregisterFactory(name);
            SaveAndReload(model, train, out var loaded);
            var error = Assert.ThrowsAny<Exception>(() => Scores(ml, loaded, test));
            Assert.Contains($"No network factory is registered under '{name}'", Flatten(error));
            PretrainedNetwork.RegisterFactory(name, () => torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)));
            Assert.Equal(expected, Scores(ml, loaded, test));   // the failed decode was not cached
        }
        finally
        {
            PretrainedNetwork.UnregisterFactory(name);
        }
    }

    private static string Flatten(Exception error) => error.InnerException is null ? error.Message : error.Message + " | " + Flatten(error.InnerException);

    private sealed class FourFeatures
    {
        [VectorType(4)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public uint Label { get; set; }
    }

    private sealed class ThreeScores
    {
        [VectorType(3)]
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void APyTorchStateDictNetworkReproducesPyTorchsOutputsThroughThePipeline()
    {
        var network = PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(4, new[] { 6 }, 3, Activation.ReLU),
                                                         Linearization.TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        var random = new Random(3);
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 12).Select(i => new FourFeatures
        {
            Features = Enumerable.Range(0, 4).Select(_ => (float)random.NextDouble()).ToArray(), Label = (uint)(i % 3 + 1),
        }));
        train = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train);
        // A vanishing prior variance keeps the posterior mean at the pretrained outputs; Gaussian probabilities are their softmax.
        var options = new NtkMulticlassTrainer.Options { Network = network, Likelihood = ClassificationLikelihood.Gaussian, PriorVariance = 1e-14, NoiseVariance = 1 };
        var model = ml.MulticlassClassification.Trainers.Ntk(options).Fit(train);
        SaveAndReload(model, train, out var loaded);

        var printed = File.ReadAllLines(Linearization.TestNetworks.Fixture("mlp_relu.expected.txt")).Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(' ').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var test = ml.Data.LoadFromEnumerable(printed.Select(r => new FourFeatures { Features = r[..4].Select(v => (float)v).ToArray(), Label = 1 }));
        var scores = ml.Data.CreateEnumerable<ThreeScores>(loaded.Transform(test), false).SelectMany(s => s.Score).ToArray();
        var expected = torch.tensor(printed.SelectMany(r => r[4..]).ToArray()).reshape(-1, 3).softmax(1);
        Tolerances.AssertClose(torch.tensor(scores).reshape(-1, 3), expected, Tolerances.Float32, "softmax of PyTorch's printed outputs");
    }

    private string State() =>
        ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(10, 1))).State;

    [Fact]
    public void DamagedNewerOrForeignStatesAreRefusedClearly()
    {
        string state = State();
        Assert.NotNull(NtkModelState.Decode(state));
        byte[] bytes = Convert.FromBase64String(state);

        Assert.Contains("not valid base64", Assert.Throws<InvalidDataException>(() => NtkModelState.Decode("%%%" + state)).Message);
        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => NtkModelState.Decode(Convert.ToBase64String(bytes[..(bytes.Length / 2)]))).Message);
        var foreign = (byte[])bytes.Clone();
        foreign[0] = (byte)'X';
        Assert.Contains("damaged or foreign", Assert.Throws<InvalidDataException>(() => NtkModelState.Decode(Convert.ToBase64String(foreign))).Message);
        var newer = (byte[])bytes.Clone();
        BitConverter.GetBytes(NtkModelState.FormatVersion + 1).CopyTo(newer, 4);
        Assert.Contains($"format version {NtkModelState.FormatVersion + 1}", Assert.Throws<InvalidDataException>(() => NtkModelState.Decode(Convert.ToBase64String(newer))).Message);
    }

    /// <summary>
    /// Any changed byte inside a part of the state (a weight, Δθ, s², σ², the layout, a class name) is caught by that part's
    /// checksum at load, before it is read, and the message names the part; so are 8 random bytes anywhere.
    /// </summary>
    [Fact]
    public void AnyDamagedByteIsRefusedAtLoadWithItsPartNamed()
    {
        byte[] bytes = Convert.FromBase64String(State());
        var parts = PartRanges(bytes);
        Assert.Equal(new[] { ModelParts.Settings, ModelParts.Network, ModelParts.Posterior, ModelParts.Summary }, parts.Select(p => p.Name));
        var random = new Random(5);
        foreach (var (name, start, length) in parts)
            foreach (long offset in new[] { start, start + length / 2, start + length - 1 })
            {
                var damaged = (byte[])bytes.Clone();
                damaged[offset] ^= 0x10;
                var error = Assert.Throws<InvalidDataException>(() => NtkModelState.Decode(Convert.ToBase64String(damaged)));
                Assert.Contains($"its {name} part", error.Message);
            }
        for (int trial = 0; trial < 20; trial++)
        {
            var damaged = (byte[])bytes.Clone();
            for (int k = 0; k < 8; k++) damaged[random.Next(8, damaged.Length)] = (byte)random.Next(256);
            if (damaged.AsSpan().SequenceEqual(bytes)) continue;
            Assert.Throws<InvalidDataException>(() => NtkModelState.Decode(Convert.ToBase64String(damaged)));
        }
    }

    /// <summary>(name, first byte, length) of each part: after "NTKM" and the version, a string name, a length and the bytes.</summary>
    private static List<(string Name, long Start, long Length)> PartRanges(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        reader.ReadBytes(8);
        var parts = new List<(string, long, long)>();
        while (reader.BaseStream.Position < bytes.Length)
        {
            string name = reader.ReadString();
            long length = reader.ReadInt64();
            parts.Add((name, reader.BaseStream.Position, length));
            reader.BaseStream.Position += length + 32;
        }
        return parts;
    }

    [Fact]
    public void AFileThatIsNotAnMLNetModelIsRefusedByMLNet()
    {
        string garbage = Path.Combine(folder.Path, "garbage.zip");
        File.WriteAllBytes(garbage, new byte[] { 1, 2, 3, 4, 5 });
        Assert.ThrowsAny<Exception>(() => ml.Model.Load(garbage, out _));
        string foreign = Path.Combine(folder.Path, "foreign.zip");
        using (var zip = ZipFile.Open(foreign, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            writer.Write("not a model");
        Assert.ThrowsAny<Exception>(() => ml.Model.Load(foreign, out _));
    }
}
