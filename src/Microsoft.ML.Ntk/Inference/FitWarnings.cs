using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>What a fit must say about itself: a solve that stopped short, a search that did not settle, implausible values.</summary>
internal static class FitWarnings
{
    /// <summary>
    /// The scale a learned noise variance is compared with: the residual's mean square, or its variance when a constant mean
    /// absorbs its average. (The variance alone is 0 when every residual is the same, and would let any σ² pass.)
    /// </summary>
    public static double ResidualScale(Tensor residual, PriorMean mean) =>
        mean == PriorMean.Constant ? residual.var().item<double>() : residual.Squared().mean().item<double>();

    /// <summary>What a Lanczos variance root of m steps in n dimensions means for the predictive variances.</summary>
    public static string? LanczosVariance(long steps, long dimension) =>
        steps >= dimension ? null
            : $"The predictive variances use a Lanczos root of {steps} steps in a {dimension}-dimensional space: they are upper bounds " +
              "(the part of the kernel outside the Krylov space is not explained). Raise the Lanczos steps for tighter variances.";

    public static List<string> Collect(LearnedHyperparameters learned, double residualScale, SolveResult? solve = null, SolverSettings? solver = null)
    {
        var warnings = new List<string>();
        if (solve is { Converged: false })
            warnings.Add($"Conjugate gradients stopped at {solve.Iterations} iterations with a relative residual of {solve.WorstResidual:E2} " +
                         $"(tolerance {solver?.Tolerance:E1}); raise MaxIterations, loosen Tolerance, or use a float64 network.");
        if (!learned.Converged)
            warnings.Add($"The hyperparameter search stopped after {learned.Iterations} iterations before its gradient vanished.");
        if (learned.Implausibility(residualScale) is { } implausible) warnings.Add(implausible);
        if (learned.OnNoiseFloor() is { } floor) warnings.Add(floor);
        return warnings;
    }
}
