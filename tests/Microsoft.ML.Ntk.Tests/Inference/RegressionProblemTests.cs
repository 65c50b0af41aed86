using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>The primal tapes a fit records are freed when its problem is disposed, and the posterior predicts as before without them.</summary>
public class RegressionProblemTests
{
    [Fact]
    public void DisposingTheProblemFreesItsTapesAndThePosteriorStillPredicts()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(95);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        Assert.True(network.TapeBudgetBytes > 0, "the test needs a linearization that records primal tapes");
        Tensor y = randn(test.Inputs.shape[0], 3, dtype: ScalarType.Float64), queries = randn_like(test.Inputs);
        var problem = new RegressionProblem(network, test.Inputs, y);
        var posterior = GaussianProcessRegression.Fit(problem, new RegressionSettings(Strategy: InferenceStrategy.FunctionSpace, PriorVariance: 0.5,
                                                                                      NoiseVariance: 0.1, ExactVariances: false, LanczosSteps: 6));
        var before = posterior.Predict(queries);
        Assert.True(problem.Inputs.TapeBytes > 0, "the function-space fit recorded no tapes");

        problem.Dispose();
        Assert.Equal(0, problem.Inputs.TapeBytes);
        var after = posterior.Predict(queries);
        Assert.Equal(before.Mean.data<double>().ToArray(), after.Mean.data<double>().ToArray());
        Assert.Equal(before.PredictiveVariance.data<double>().ToArray(), after.PredictiveVariance.data<double>().ToArray());
    }
}
