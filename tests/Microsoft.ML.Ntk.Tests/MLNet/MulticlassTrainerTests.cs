using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public class MulticlassTrainerTests
{
    private sealed class ClassScore
    {
        [VectorType(3)]
        public float[] Score { get; set; } = Array.Empty<float>();

        [VectorType(3)]
        public float[] Variance { get; set; } = Array.Empty<float>();

        public uint PredictedLabel { get; set; }
        public string PredictedClass { get; set; } = "";
        public uint Label { get; set; }
    }

    private static (MLContext Ml, IDataView Train, IDataView Test, IEstimator<ITransformer> Pipeline) Setup(TemporaryFolder folder, NtkMulticlassTrainer.Options options)
    {
        var ml = new MLContext(seed: 1);
        options.Network ??= NtkTestData.Mlp(folder, outputs: 3);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(40, seed: 5));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
        return (ml, train, test, pipeline);
    }

    [Fact]
    public void OutputsHaveTheDocumentedTypesAndKeyValues()
    {
        using var folder = new TemporaryFolder();
        var (ml, train, test, pipeline) = Setup(folder, new NtkMulticlassTrainer.Options());
        var output = pipeline.Fit(train).Transform(test);

        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), output.Schema["Score"].Type);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), output.Schema["Variance"].Type);
        Assert.Equal(new KeyDataViewType(typeof(uint), 3), output.Schema["PredictedLabel"].Type);
        Assert.DoesNotContain(output.Schema, c => c.Name.StartsWith("__Ntk", StringComparison.Ordinal));
        var rows = ml.Data.CreateEnumerable<ClassScore>(output, reuseRowObject: false).ToArray();
        string[] names = { "east", "north", "west" };   // MapValueToKey numbers the classes in order of appearance
        foreach (var row in rows)
        {
            Assert.Equal(1.0, row.Score.Sum(), 5);
            Assert.All(row.Variance, v => Assert.True(v >= 0));
            int best = Array.IndexOf(row.Score, row.Score.Max());
            Assert.Equal((uint)best + 1, row.PredictedLabel);
            Assert.Equal(names[best], row.PredictedClass);
        }
    }

    [Theory]
    [InlineData(false, 0.5)]
    [InlineData(true, 0.5)]
    [InlineData(true, null)]
    public void ProbabilitiesEqualTheInferenceLayersOnTheSameData(bool independentOutputs, double? priorVariance)
    {
        using var folder = new TemporaryFolder();
        var network = NtkTestData.Mlp(folder, outputs: 3);
        var (ml, train, test, pipeline) = Setup(folder, new NtkMulticlassTrainer.Options
        {
            Network = network, PriorVariance = priorVariance, IndependentOutputs = independentOutputs,
        });
        var model = pipeline.Fit(train);
        var rows = ml.Data.CreateEnumerable<ClassScore>(model.Transform(test), reuseRowObject: false).ToArray();
        Assert.Equal(independentOutputs, ((IEnumerable<ITransformer>)model).OfType<NtkTransformer>().Single().FitSummary.IndependentOutputs);

        var trainRows = NtkTestData.Classes(60, seed: 4);
        string[] order = trainRows.Select(r => r.Class).Distinct().ToArray();
        var linearized = NtkModelState.Linearize(network.CreateCopy(), ParameterSelection.All, TangentMode.Auto, 256, TorchSharp.torch.CPU);
        Tensor x = tensor(trainRows.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(trainRows.Length, 2);
        Tensor labels = tensor(trainRows.Select(r => (long)Array.IndexOf(order, r.Class)).ToArray());
        var posterior = GaussianProcessClassification.Fit(linearized, x, labels,
                                                          new ClassificationSettings(PriorVariance: priorVariance, IndependentOutputs: independentOutputs));
        var testRows = NtkTestData.Classes(40, seed: 5);
        var expected = posterior.Predict(tensor(testRows.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(testRows.Length, 2));

        Tolerances.AssertClose(tensor(rows.SelectMany(r => r.Score).ToArray()).reshape(-1, 3), expected.Probabilities, Tolerances.Float32, "probabilities");
        Tolerances.AssertClose(tensor(rows.SelectMany(r => r.Variance).ToArray()).reshape(-1, 3), expected.LatentVariance, Tolerances.Float32, "variances");
    }

    [Theory]
    [InlineData(ClassificationLikelihood.Softmax)]
    [InlineData(ClassificationLikelihood.Gaussian)]
    public void EvaluateWorksAndTheAdaptedModelLearnsTheClasses(ClassificationLikelihood likelihood)
    {
        using var folder = new TemporaryFolder();
        var (ml, train, test, pipeline) = Setup(folder, new NtkMulticlassTrainer.Options { Likelihood = likelihood, Mean = PriorMean.Zero });
        var adapted = ml.MulticlassClassification.Evaluate(pipeline.Fit(train).Transform(test));
        Assert.True(adapted.MacroAccuracy > 0.7, $"macro accuracy {adapted.MacroAccuracy:F3}");
        Assert.True(adapted.LogLoss < Math.Log(3), $"log loss {adapted.LogLoss:F3} is no better than chance");
    }

    [Fact]
    public void TopKEvaluationWorksOnTheScore()
    {
        using var folder = new TemporaryFolder();
        var (ml, train, test, pipeline) = Setup(folder, new NtkMulticlassTrainer.Options { Mean = PriorMean.Zero });
        var metrics = ml.MulticlassClassification.Evaluate(pipeline.Fit(train).Transform(test), topKPredictionCount: 2);
        Assert.Equal(2, metrics.TopKPredictionCount);
        Assert.True(metrics.TopKAccuracy >= metrics.MicroAccuracy, $"top-2 accuracy {metrics.TopKAccuracy:F3} below accuracy {metrics.MicroAccuracy:F3}");
        Assert.Equal(2, metrics.TopKAccuracyForAllK.Count);                   // K = 1 and 2
        Assert.Equal(metrics.MicroAccuracy, metrics.TopKAccuracyForAllK[0], 6);
    }

    [Fact]
    public void CrossValidateWorks()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), Mean = PriorMean.Zero }));
        var folds = ml.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: 3);
        Assert.Equal(3, folds.Count);
        Assert.All(folds, f => Assert.True(f.Metrics.MacroAccuracy > 0.5, $"fold macro accuracy {f.Metrics.MacroAccuracy:F3}"));
    }
}
