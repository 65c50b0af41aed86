using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class FunctionSpaceRegressionTests
{
    private const double PosteriorTolerance = 1e-6;

    /// <summary>
    /// With CG run to 1e-12 and as many Lanczos steps as training outputs, the iterative posterior is exact, with the
    /// Lanczos variance root (ExactVariances: false) as with the exact one.
    /// </summary>
    [Theory]
    [InlineData("mlp-tanh", PriorMean.Network, false)]
    [InlineData("mlp-relu", PriorMean.Constant, false)]
    [InlineData("cnn-batchnorm", PriorMean.Zero, false)]
    [InlineData("torchscript-mlp", PriorMean.Network, false)]
    [InlineData("cnn-batchnorm", PriorMean.Network, true)]
    public void TheFunctionSpacePosteriorMatchesTheReference(string name, PriorMean mean, bool exactVariances)
    {
        var test = TestNetworks.Create(name);
        manual_seed(41);
        long c = ((TorchSharp.torch.nn.IModule<Tensor, Tensor>)test.Network).call(test.Inputs).shape[1];
        Tensor targets = randn(test.Inputs.shape[0], c, dtype: ScalarType.Float64);
        Tensor testInputs = randn_like(test.Inputs).narrow(0, 0, 2);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        var settings = new RegressionSettings(mean, PriorVariance: 0.7, NoiseVariance: 0.05, Solver: new SolverSettings(Tolerance: 1e-12, MaxIterations: 500),
                                              ExactVariances: exactVariances);
        var posterior = FunctionSpaceRegression.Fit(new RegressionProblem(network, test.Inputs, targets), settings);
        var reference = new RegressionReference(test.Network, test.Inputs, targets, testInputs, 0.7, 0.05, mean);

        Assert.True(posterior.Report.SolverConverged, posterior.Report.ToString());
        var prediction = posterior.Predict(testInputs);
        Tolerances.AssertClose(prediction.Mean, reference.Mean, PosteriorTolerance, $"{name} function-space mean");
        Tolerances.AssertClose(prediction.LatentVariance, reference.LatentVariance, PosteriorTolerance, $"{name} function-space latent variance");
        Tolerances.AssertClose(posterior.ParameterShift, reference.ParameterShift, PosteriorTolerance, $"{name} function-space Δθ");
        Assert.True(double.IsNaN(posterior.Report.LogMarginalLikelihood), "both hyperparameters given: no marginal likelihood is computed");
    }

    [Fact]
    public void TheLanczosMarginalLikelihoodAgreesWithTheExactOneWithinItsProbeError()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        manual_seed(42);
        Tensor targets = randn(test.Inputs.shape[0], 2, dtype: ScalarType.Float64);
        var problem = new RegressionProblem(network, test.Inputs, targets);
        var kernelOperator = new KernelOperator(network, problem.Inputs, 2);
        Tensor residual = problem.Targets - problem.PretrainedOutputs;
        var exact = new ExactMarginalLikelihood(network.Kernel(problem.Inputs, problem.Inputs), residual, null);
        var estimate = new LanczosMarginalLikelihood(kernelOperator, residual, probes: 400, steps: (int)problem.Size, seed: 1, Array.Empty<double>());
        foreach (var (s2, n2) in new[] { (0.7, 0.05), (3.0, 0.5) })
        {
            var e = exact.Evaluate(s2, n2);
            var a = estimate.Evaluate(s2, n2);
            // Only log det is stochastic: 400 Rademacher probes on a 10×10 system leave an error well under 5 %.
            Assert.True(Math.Abs(a.Value - e.Value) <= 0.05 * Math.Abs(e.Value), $"LML {a.Value:F4} vs exact {e.Value:F4}");
            Assert.True(Math.Abs(a.DNoise - e.DNoise) <= 0.05 * Math.Abs(e.DNoise) + 0.5, $"∂/∂σ² {a.DNoise:F4} vs exact {e.DNoise:F4}");
        }
    }

    [Fact]
    public void ASolveThatHitsItsCapIsReportedNotHidden()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(43);
        Tensor targets = randn(test.Inputs.shape[0], 3, dtype: ScalarType.Float64);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var settings = new RegressionSettings(PriorVariance: 1, NoiseVariance: 1e-6, PreconditionerRank: 0, ExactVariances: false,
                                              Solver: new SolverSettings(Tolerance: 1e-12, MaxIterations: 2));
        var report = FunctionSpaceRegression.Fit(new RegressionProblem(network, test.Inputs, targets), settings).Report;
        Assert.False(report.SolverConverged);
        Assert.Equal(2, report.SolverIterations);
        Assert.Contains(report.Warnings, w => w.Contains("stopped at 2 iterations"));
    }
}
