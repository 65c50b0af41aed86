using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public class BinaryTrainerTests
{
    private sealed class BinaryScore
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
        public float Variance { get; set; }
    }

    private static IDataView Data(MLContext ml, int count, int seed) => ml.Data.LoadFromEnumerable(NtkTestData.Binary(count, seed));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OutputsHaveTheTypesOfMLNetsBinaryTrainersAndEvaluateWorks(int outputs)
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = ml.BinaryClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs)).Fit(Data(ml, 60, 4));
        var output = model.Transform(Data(ml, 200, 5));

        Assert.Equal(NumberDataViewType.Single, output.Schema["Score"].Type);
        Assert.Equal(NumberDataViewType.Single, output.Schema["Probability"].Type);
        Assert.Equal(BooleanDataViewType.Instance, output.Schema["PredictedLabel"].Type);
        Assert.Equal(NumberDataViewType.Single, output.Schema["Variance"].Type);
        Assert.DoesNotContain(output.Schema, c => c.Name.StartsWith("__Ntk", StringComparison.Ordinal));
        foreach (var row in ml.Data.CreateEnumerable<BinaryScore>(output, reuseRowObject: false))
        {
            Assert.InRange(row.Probability, 0f, 1f);
            Assert.True(row.Variance >= 0);
            Assert.Equal(row.Probability >= 0.5f, row.PredictedLabel);
            Assert.Equal(row.Score > 0, row.Probability > 0.5f);    // the probit approximation keeps the log-odds' sign
        }
        var metrics = ml.BinaryClassification.Evaluate(output);
        // The classes are a line through the plane with 5 % of labels flipped: a sensible model ranks them well.
        Assert.True(metrics.AreaUnderRocCurve > 0.85, $"AUC {metrics.AreaUnderRocCurve:F3}");
        Assert.True(metrics.LogLoss < 0.6 && double.IsFinite(metrics.F1Score), $"log-loss {metrics.LogLoss:F3}, F1 {metrics.F1Score:F3}");
    }

    [Fact]
    public void ProbabilitiesEqualTheInferenceLayersOnTheSameData()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var network = NtkTestData.Mlp(folder, outputs: 1);
        var rows = ml.Data.CreateEnumerable<BinaryScore>(ml.BinaryClassification.Trainers.Ntk(network).Fit(Data(ml, 60, 4)).Transform(Data(ml, 30, 5)),
                                                         reuseRowObject: false).ToArray();

        var train = NtkTestData.Binary(60, seed: 4);
        var linearized = NtkModelState.Linearize(network.CreateCopy(), ParameterSelection.All, TangentMode.Auto, 256, CPU);
        Tensor x = tensor(train.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(train.Length, 2);
        var posterior = GaussianProcessClassification.Fit(linearized, x, tensor(train.Select(r => r.Label ? 1L : 0L).ToArray()), new ClassificationSettings());
        var test = NtkTestData.Binary(30, seed: 5);
        var expected = posterior.PredictBinary(tensor(test.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(test.Length, 2));
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal((float)expected.Probability[i].item<double>(), rows[i].Probability);
            Assert.Equal((float)expected.LogOdds[i].item<double>(), rows[i].Score);
            Assert.Equal((float)expected.Variance[i].item<double>(), rows[i].Variance);
        }
    }

    [Fact]
    public void CrossValidationSavingAndLoadingWork()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var trainer = ml.BinaryClassification.Trainers.Ntk(new NtkBinaryTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 1), PriorVariance = 0.5 });
        var folds = ml.BinaryClassification.CrossValidate(Data(ml, 60, 4), trainer, numberOfFolds: 3);
        Assert.Equal(3, folds.Count);
        Assert.All(folds, f => Assert.True(f.Metrics.AreaUnderRocCurve > 0.7, $"AUC {f.Metrics.AreaUnderRocCurve:F3}"));

        var train = Data(ml, 60, 4);
        var model = trainer.Fit(train);
        string path = Path.Combine(folder.Path, "binary.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var test = Data(ml, 20, 6);
        var before = ml.Data.CreateEnumerable<BinaryScore>(model.Transform(test), reuseRowObject: false).ToArray();
        var after = ml.Data.CreateEnumerable<BinaryScore>(loaded.Transform(test), reuseRowObject: false).ToArray();
        Assert.Equal(before.Select(r => (r.Score, r.Probability, r.PredictedLabel, r.Variance)), after.Select(r => (r.Score, r.Probability, r.PredictedLabel, r.Variance)));
    }

    [Fact]
    public void ANonBooleanLabelOrAWrongOutputCountIsRefusedClearly()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var regressionRows = ml.Data.LoadFromEnumerable(NtkTestData.Regression(10, seed: 1));
        var label = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.Ntk(NtkTestData.Mlp(folder, 1)).Fit(regressionRows));
        Assert.Contains("'Label' is of type Single", label.Message);
        Assert.Contains("Boolean", label.Message);
        var outputs = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Ntk(NtkTestData.Mlp(folder, 3)).Fit(Data(ml, 10, 1)));
        Assert.Contains("3 outputs", outputs.Message);
    }
}
