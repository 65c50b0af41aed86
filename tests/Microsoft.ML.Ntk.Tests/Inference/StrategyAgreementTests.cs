using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// Forced iterative strategies with their default settings against the dense posterior, on a problem with P ≫ N and N in
/// the hundreds (more training outputs than the default 100 Lanczos steps; with the Lanczos roots of that many steps the
/// variances were 81 % off here): means and variances agree to 1e-3 relative.
/// The means are CG solves to the default relative residual of 1e-6; a residual ε changes the mean by at most about
/// ε · cond(s² K0 + σ² I) relative, and cond ≈ s² λ_max / σ² is near 1e3 here, so 1e-3 holds with margin.
/// </summary>
public class StrategyAgreementTests
{
    private const double AgreementTolerance = 1e-3;

    /// <summary>A seeded float64 MLP in evaluation mode, linearized in all its parameters.</summary>
    private static LinearizedNetwork Float64Mlp(long inputs, long[] hidden, long outputs, Func<nn.Module<Tensor, Tensor>> activation)
    {
        var module = Architectures.Mlp(inputs, hidden, outputs, activation);
        module.to(ScalarType.Float64);
        module.eval();
        return new LinearizedNetwork(module, ParameterSelection.All);
    }

    [Theory]
    [InlineData(InferenceStrategy.FunctionSpace)]
    [InlineData(InferenceStrategy.WeightSpace)]
    public void IterativeStrategiesAgreeWithTheDensePosterior(InferenceStrategy strategy)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(91);
        var network = Float64Mlp(20, new long[] { 64, 64 }, 1, () => nn.ELU());
        Tensor x = randn(300, 20, dtype: ScalarType.Float64), y = (x[.., 0] * 2).sin().unsqueeze(1) + 0.1 * randn(300, 1, dtype: ScalarType.Float64);
        Tensor test = randn(20, 20, dtype: ScalarType.Float64);
        Assert.True(network.Parameters.Count > 10 * 300);

        RegressionPrediction Predict(InferenceStrategy s) =>
            GaussianProcessRegression.Fit(network, x, y, new RegressionSettings(PriorVariance: 1.0, NoiseVariance: 0.01, Strategy: s)).Predict(test);
        var dense = Predict(InferenceStrategy.Dense);
        var iterative = Predict(strategy);
        Tolerances.AssertClose(iterative.Mean, dense.Mean, AgreementTolerance, $"{strategy} mean");
        Tolerances.AssertClose(iterative.LatentVariance, dense.LatentVariance, AgreementTolerance, $"{strategy} latent variance");
    }

    /// <summary>
    /// The case that broke weight space in the sinusoid experiment: 10 points, 1,761 parameters and a noise variance that
    /// collapsed (σ²/s² = 1e-7). The weight-space mean must stay within 1e-3 of the function-space and dense ones. At 1e-9 it
    /// agreed to 1e-3 with MKL's reproducible arithmetic and only to 2.6e-3 in a run without it: the push-through
    /// preconditioner divides by σ²/s², so rounding grows as 1/λ there.
    /// </summary>
    [Fact]
    public void WeightSpaceMeansHoldWhenTheNoiseVarianceCollapses()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(92);
        var network = Float64Mlp(1, new long[] { 40, 40 }, 1, () => nn.Tanh());
        Assert.Equal(1761, network.Parameters.Count);
        Tensor x = rand(10, 1, dtype: ScalarType.Float64) * 10 - 5, y = 1.6 * (1.3 * x + 0.7).sin();
        Tensor test = linspace(-5, 5, 50, dtype: ScalarType.Float64).unsqueeze(1);
        Tensor Mean(InferenceStrategy s) =>
            GaussianProcessRegression.Fit(network, x, y, new RegressionSettings(PriorVariance: 1.0, NoiseVariance: 1e-7, Strategy: s)).Predict(test).Mean;
        Tensor dense = Mean(InferenceStrategy.Dense);
        Tolerances.AssertClose(Mean(InferenceStrategy.WeightSpace), dense, AgreementTolerance, "weight-space mean");
        Tolerances.AssertClose(Mean(InferenceStrategy.FunctionSpace), dense, AgreementTolerance, "function-space mean");
    }

    /// <summary>
    /// Degenerate data (found by a probe: forced weight space on 10 identical rows gave a mean of −12,580 where the others gave
    /// 0.648): identical rows, a constant target, a single row. Every strategy, hyperparameters learned, gives the same means;
    /// for a single row, which cannot determine both variances, with σ² given (learning both is refused).
    /// </summary>
    [Theory]
    [InlineData("identical rows")]
    [InlineData("constant target")]
    [InlineData("single row")]
    public void DegenerateDataGivesTheSameAnswerFromEveryStrategy(string kind)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(93);
        var network = Float64Mlp(2, new long[] { 16 }, 1, () => nn.Tanh());
        Tensor x = kind switch
        {
            "identical rows" => full(new long[] { 10, 2 }, 0.3, dtype: ScalarType.Float64),
            "single row" => tensor(new[] { 0.3, -0.2 }, dtype: ScalarType.Float64).reshape(1, 2),
            _ => randn(10, 2, dtype: ScalarType.Float64),
        };
        Tensor y = kind == "constant target" ? full(new long[] { 10, 1 }, 0.7, dtype: ScalarType.Float64)
                 : kind == "single row" ? tensor(new[] { 0.7 }, dtype: ScalarType.Float64).reshape(1, 1)
                 : 0.7 + 0.1 * randn(10, 1, dtype: ScalarType.Float64);
        Tensor test = randn(5, 2, dtype: ScalarType.Float64);
        double? noise = kind == "single row" ? 0.01 : null;
        // Pure maximum likelihood, the regime the probe found the bug in: a constant target then drives σ² to zero in every strategy
        // and the means interpolate. (With the default noise floor σ² stops on the floor, and the means then follow s², which the
        // iterative strategies' stochastic marginal likelihood places a little differently: 4e-3 apart in this case.)
        Tensor Mean(InferenceStrategy s) =>
            GaussianProcessRegression.Fit(network, x, y, new RegressionSettings(NoiseVariance: noise, Strategy: s, NoiseFloor: 0)).Predict(test).Mean;
        if (kind == "single row")
            Assert.Contains("One training value", Assert.Throws<ArgumentException>(() => GaussianProcessRegression.Fit(network, x, y, new RegressionSettings())).Message);
        Tensor dense = Mean(InferenceStrategy.Dense);
        Assert.True(dense.isfinite().all().item<bool>());
        Tolerances.AssertClose(Mean(InferenceStrategy.FunctionSpace), dense, AgreementTolerance, $"{kind}: function-space mean");
        Tolerances.AssertClose(Mean(InferenceStrategy.WeightSpace), dense, AgreementTolerance, $"{kind}: weight-space mean");
    }

    /// <summary>
    /// Identical rows with one target value: the residual has no variance, and a noise variance that collapses must still be
    /// called implausible (the check compares with the residual's mean square, not its variance, which is 0 here).
    /// </summary>
    [Fact]
    public void ACollapsedNoiseVarianceIsReportedWhenTheResidualHasNoVariance()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(94);
        var network = Float64Mlp(2, new long[] { 16 }, 1, () => nn.Tanh());
        Tensor x = full(new long[] { 10, 2 }, 0.3, dtype: ScalarType.Float64), y = full(new long[] { 10, 1 }, 0.7, dtype: ScalarType.Float64);
        var pure = new RegressionSettings(Mean: PriorMean.Zero, Strategy: InferenceStrategy.Dense, NoiseFloor: 0);
        var report = GaussianProcessRegression.Fit(network, x, y, pure).Report;
        Assert.True(report.NoiseVariance < 1e-10 * 0.49, $"σ² = {report.NoiseVariance:G3}: the test needs a collapsed noise variance");
        Assert.Contains(report.Warnings, w => w.Contains("implausible"));

        // With the default floor (a fraction of the residuals' mean square, 0.49 here) σ² stops there, and the fit says so.
        var floored = GaussianProcessRegression.Fit(network, x, y, pure with { NoiseFloor = InferenceSettings.DefaultNoiseFloor }).Report;
        Assert.InRange(floored.NoiseVariance, InferenceSettings.DefaultNoiseFloor * 0.49, 1.01 * InferenceSettings.DefaultNoiseFloor * 0.49);
        Assert.Contains(floored.Warnings, w => w.Contains("sits on its floor"));
        Assert.DoesNotContain(floored.Warnings, w => w.Contains("implausible"));
    }
}
