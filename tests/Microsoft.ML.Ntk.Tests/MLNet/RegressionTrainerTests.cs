using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public class RegressionTrainerTests
{
    [Fact]
    public void ScoresAndVariancesEqualTheInferenceLayersOnTheSameData()
    {
        using var folder = new TemporaryFolder();
        var network = NtkTestData.Mlp(folder, outputs: 1);
        var ml = new MLContext(seed: 1);
        var train = NtkTestData.Regression(40, seed: 2);
        var test = NtkTestData.Regression(25, seed: 3);
        var model = ml.Regression.Trainers.Ntk(network).Fit(ml.Data.LoadFromEnumerable(train));
        var scored = ml.Data.CreateEnumerable<RegressionScore>(model.Transform(ml.Data.LoadFromEnumerable(test)), reuseRowObject: false).ToArray();

        var linearized = NtkModelState.Linearize(network.CreateCopy(), ParameterSelection.All, TangentMode.Auto, 256, TorchSharp.torch.CPU);
        Tensor x = tensor(train.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(train.Length, 2);
        Tensor y = tensor(train.Select(r => r.Label).ToArray()).to(ScalarType.Float64).reshape(train.Length, 1);
        var posterior = GaussianProcessRegression.Fit(linearized, x, y, new RegressionSettings());
        var expected = posterior.Predict(tensor(test.SelectMany(r => r.Features).ToArray()).to(ScalarType.Float64).reshape(test.Length, 2));

        Assert.Equal(InferenceStrategy.Dense, model.FitSummary.Strategy);
        Assert.Equal(posterior.PriorVariance, model.FitSummary.PriorVariance, 1e-12);
        Tolerances.AssertClose(tensor(scored.Select(s => s.Score).ToArray()), expected.Mean.reshape(-1), Tolerances.Float32, "scores");
        Tolerances.AssertClose(tensor(scored.Select(s => s.Variance).ToArray()), expected.PredictiveVariance.reshape(-1), Tolerances.Float32, "variances");
    }
}
