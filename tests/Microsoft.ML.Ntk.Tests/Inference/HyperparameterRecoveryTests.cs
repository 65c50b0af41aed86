using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class HyperparameterRecoveryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// Data drawn from the Jacobian-kernel GP itself, y ~ N(f0, s² J Jᵀ + σ² I), with known s² and σ²: the learned values
    /// must lie within four asymptotic standard errors of the truth, the errors taken from the Fisher information
    /// I_ij = ½ tr(K⁻¹ ∂_i K K⁻¹ ∂_j K) in log space at the true values. The learned likelihood must not be below the truth's.
    /// </summary>
    [Theory]
    [InlineData(0.5, 0.01, 1)]
    [InlineData(2.0, 0.1, 2)]
    public void LearnedHyperparametersRecoverTheGeneratingValues(double priorVariance, double noiseVariance, int seed)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(seed);
        var module = Architectures.Mlp(1, new long[] { 20, 20 }, 1, () => nn.Tanh()).to(ScalarType.Float64);
        module.eval();
        Tensor x = linspace(-3, 3, 200, dtype: ScalarType.Float64).unsqueeze(1);
        var network = new LinearizedNetwork(module, ParameterSelection.All);
        using var prepared = network.Prepare(x);
        Tensor k0 = network.Kernel(prepared, prepared);
        Tensor system = priorVariance * k0 + noiseVariance * eye(200, dtype: ScalarType.Float64);
        Tensor f0;
        using (no_grad()) f0 = module.call(x);
        Tensor y = f0 + linalg.cholesky(system).matmul(randn(200, 1, dtype: ScalarType.Float64));

        // Maximum likelihood is what is tested: no floor on σ² (the default floor could sit above a small true noise).
        var posterior = DenseRegression.Fit(new RegressionProblem(network, x, y), new RegressionSettings(NoiseFloor: 0));
        var report = posterior.Report;
        Assert.True(report.HyperparametersConverged, report.ToString());

        double[] standardErrors = LogSpaceStandardErrors(k0, system, priorVariance, noiseVariance);
        output.WriteLine($"true s² {priorVariance}, σ² {noiseVariance}; learned {report.PriorVariance:G4}, {report.NoiseVariance:G4}; log-space SE {standardErrors[0]:F3}, {standardErrors[1]:F3}");
        double priorError = Math.Abs(Math.Log(report.PriorVariance / priorVariance)), noiseError = Math.Abs(Math.Log(report.NoiseVariance / noiseVariance));
        Assert.True(priorError <= 4 * standardErrors[0], $"s²: learned {report.PriorVariance:G4}, true {priorVariance} (log error {priorError:F3}, SE {standardErrors[0]:F3})");
        Assert.True(noiseError <= 4 * standardErrors[1], $"σ²: learned {report.NoiseVariance:G4}, true {noiseVariance} (log error {noiseError:F3}, SE {standardErrors[1]:F3})");

        var atTruth = DenseRegression.Fit(new RegressionProblem(network, x, y), new RegressionSettings(PriorVariance: priorVariance, NoiseVariance: noiseVariance));
        Assert.True(report.LogMarginalLikelihood >= atTruth.Report.LogMarginalLikelihood - 1e-9);
    }

    /// <summary>
    /// Found while benchmarking: for a random 1-256-256-256-1 tanh MLP and 100 points of sin(3x) + N(0, 0.1²), a search
    /// started from the kernel's mean diagonal stopped at s² ≈ 1.6e-4, σ² ≈ 0.5 (log marginal likelihood −107.7) while
    /// s² ≈ 800, σ² ≈ 0.01 gives +21.1. The learned values must find the latter.
    /// </summary>
    [Fact]
    public void TheSearchDoesNotStopAtTheNoiseOnlyMaximum()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(0);
        var mlp = Architectures.Mlp(1, new long[] { 256, 256, 256 }, 1, () => nn.Tanh());
        mlp.eval();
        var network = new LinearizedNetwork(mlp, ParameterSelection.All, TangentMode.Auto, batchSize: 1024);
        Tensor x = rand(100, 1) * 6 - 3;
        Tensor y = (3 * x).sin() + 0.1 * randn_like(x);
        var report = DenseRegression.Fit(new RegressionProblem(network, x, y), new RegressionSettings()).Report;
        output.WriteLine(report.ToString());
        Assert.True(report.LogMarginalLikelihood > 20, report.ToString());
        Assert.InRange(report.NoiseVariance, 0.005, 0.02);
    }

    private static double[] LogSpaceStandardErrors(Tensor k0, Tensor system, double priorVariance, double noiseVariance)
    {
        Tensor inverse = linalg.inv(system);
        Tensor[] derivatives = { priorVariance * k0, noiseVariance * eye(k0.shape[0], dtype: ScalarType.Float64) };
        var fisher = zeros(2, 2, dtype: ScalarType.Float64);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                fisher[i, j] = 0.5 * inverse.matmul(derivatives[i]).matmul(inverse).matmul(derivatives[j]).trace();
        return linalg.inv(fisher).diagonal().sqrt().data<double>().ToArray();
    }
}
