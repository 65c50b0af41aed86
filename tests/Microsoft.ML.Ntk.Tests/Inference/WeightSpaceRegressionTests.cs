using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class WeightSpaceRegressionTests
{
    private const double PosteriorTolerance = 1e-6;

    public static TheoryData<string, PriorMean> Cases() => new()
    {
        { "small-mlp", PriorMean.Network },   // N·C = 40 > P = 13: the case weight space is for
        { "small-mlp", PriorMean.Constant },
        { "mlp-tanh", PriorMean.Zero },       // N·C = 10 < P = 71 also holds exactly
        { "cnn-batchnorm", PriorMean.Network },
    };

    /// <summary>With CG to 1e-12 and Lanczos run to exhaustion (P ≤ LanczosSteps), the weight-space posterior is exact.</summary>
    [Theory, MemberData(nameof(Cases))]
    public void TheWeightSpacePosteriorMatchesTheReference(string name, PriorMean mean)
    {
        var (network, inputs) = Network(name);
        manual_seed(51);
        long c = ((nn.IModule<Tensor, Tensor>)network).call(inputs).shape[1];
        Tensor targets = randn(inputs.shape[0], c, dtype: ScalarType.Float64);
        Tensor testInputs = randn_like(inputs).narrow(0, 0, 3);
        var linearized = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.Auto, batchSize: 7);
        var settings = new RegressionSettings(mean, PriorVariance: 0.7, NoiseVariance: 0.05, LanczosSteps: 400, Probes: 8,
                                              Solver: new SolverSettings(Tolerance: 1e-12, MaxIterations: 1000), ExactVariances: false);
        var posterior = WeightSpaceRegression.Fit(new RegressionProblem(linearized, inputs, targets), settings);
        var reference = new RegressionReference(network, inputs, targets, testInputs, 0.7, 0.05, mean);

        Assert.True(posterior.Report.SolverConverged, posterior.Report.ToString());
        var prediction = posterior.Predict(testInputs);
        Tolerances.AssertClose(posterior.ParameterShift, reference.ParameterShift, PosteriorTolerance, $"{name} weight-space Δθ");
        Tolerances.AssertClose(prediction.Mean, reference.Mean, PosteriorTolerance, $"{name} weight-space mean");
        Tolerances.AssertClose(prediction.LatentVariance, reference.LatentVariance, PosteriorTolerance, $"{name} weight-space latent variance");
        Assert.True(double.IsNaN(posterior.Report.LogMarginalLikelihood), "both hyperparameters given: no marginal likelihood is computed");
        if (mean == PriorMean.Constant) return;
        // The estimate a learning fit would use: through G = JᵀJ when P < N·C, in function space otherwise.
        var problem = new RegressionProblem(linearized, inputs, targets);
        Tensor residual = problem.Targets - problem.PriorMeanValues(mean, Array.Empty<double>());
        Tensor projected = linearized.Vjp(problem.Inputs, residual.reshape(1, problem.Count, problem.Outputs))[0].to(ScalarType.Float64);
        IMarginalLikelihood likelihood = linearized.Parameters.Count < problem.Size
            ? new WeightSpaceMarginalLikelihood(new GaussNewtonOperator(linearized, problem.Inputs), projected, residual.square().sum().item<double>(),
                                                problem.Size, probes: 8, steps: (int)Math.Min(400, linearized.Parameters.Count), seed: 0, Array.Empty<double>())
            : new LanczosMarginalLikelihood(new KernelOperator(linearized, problem.Inputs, problem.Outputs), residual, probes: 8,
                                            steps: (int)problem.Size, seed: 0, Array.Empty<double>());
        double value = likelihood.Evaluate(0.7, 0.05).Value;
        Assert.True(Math.Abs(value - reference.LogMarginalLikelihood) <= 0.1 * Math.Abs(reference.LogMarginalLikelihood),
                    $"LML {value:F3} vs exact {reference.LogMarginalLikelihood:F3} (stochastic log det)");
    }

    /// <summary>
    /// Found while benchmarking: forced weight space with P = 132k > N·C = 1,000 let σ² run off to 1e-64 (the Sylvester form
    /// needs an exact cancellation a stochastic log det does not give). The learned values must be plausible now.
    /// </summary>
    [Fact]
    public void ForcedWeightSpaceWithMoreParametersThanOutputsLearnsPlausibleHyperparameters()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(0);
        var mlp = Architectures.Mlp(1, new long[] { 256, 256, 256 }, 1, () => nn.Tanh());
        mlp.eval();
        Tensor x = rand(1000, 1) * 6 - 3;
        Tensor y = (3 * x).sin() + 0.1 * randn_like(x);
        var network = new LinearizedNetwork(mlp, ParameterSelection.All, TangentMode.Auto, batchSize: 1024);
        var report = GaussianProcessRegression.Fit(network, x, y, new RegressionSettings(Strategy: InferenceStrategy.WeightSpace, Probes: 4, LanczosSteps: 30,
                                                   Solver: new SolverSettings(Tolerance: 1e-3, MaxIterations: 300))).Report;
        Assert.DoesNotContain(report.Warnings, w => w.Contains("implausible"));
        Assert.InRange(report.NoiseVariance, 1e-3, 0.1);
    }

    private static (nn.Module Network, Tensor Inputs) Network(string name)
    {
        if (name != "small-mlp")
        {
            var test = TestNetworks.Create(name);
            return (test.Network, test.Inputs);
        }
        TorchSharpLoader.EnsureLoaded();
        manual_seed(52);
        var mlp = Architectures.Mlp(1, new long[] { 4 }, 1, () => nn.Tanh()).to(ScalarType.Float64);
        mlp.eval();
        return (mlp, linspace(-2, 2, 40, dtype: ScalarType.Float64).unsqueeze(1));
    }
}

public class TridiagonalFactorTests
{
    /// <summary>Found while benchmarking: float32 products left T with an eigenvalue of −1e-6 and s² ≈ 10³, σ² ≈ 10⁻²
    /// made s² T + σ² I indefinite. The factor treats such eigenvalues as zero.</summary>
    [Fact]
    public void SlightlyNegativeEigenvaluesOfTheTridiagonalAreTreatedAsZero()
    {
        TorchSharpLoader.EnsureLoaded();
        Tensor t = tensor(new double[] { 5, 0, 0, -1e-4 }, dtype: ScalarType.Float64).reshape(2, 2);
        Assert.Throws<System.Runtime.InteropServices.ExternalException>(() => linalg.cholesky(1e3 * t + 1e-2 * eye(2, dtype: ScalarType.Float64)));
        Tensor lower = KernelInverseRoot.TridiagonalFactor(t, 1e3, 1e-2);
        Tensor expected = tensor(new double[] { 5e3 + 1e-2, 0, 0, 1e-2 }, dtype: ScalarType.Float64).reshape(2, 2);
        Tolerances.AssertClose(lower.matmul(lower.t()), expected, 1e-12, "factor of s² max(T, 0) + σ² I");
    }
}
