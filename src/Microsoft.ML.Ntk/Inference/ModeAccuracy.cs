using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// When Newton's method on a softmax mode may stop: at the gradient norm |g| = sqrt(rᵀ K0 r) (the parameter-space gradient)
/// the tolerance asks for, relative to the gradient at a = 0 and never below the rounding floor; or, when an accuracy of
/// the objective is given, once ½ s² |g|² is below it. That is a bound: the parameter-space Hessian is I/s² + Jᵀ W J ⪰ I/s²,
/// so the objective of a convex function stands at most ½ s² |g|² above its minimum. The evidence search uses the bound,
/// since what it compares is objective values.
/// </summary>
internal static class ModeAccuracy
{
    public static double TargetGradient(SolverSettings settings, double initialGradient, double priorVariance, double objectiveAccuracy = 0)
    {
        double relative = Math.Max(settings.Tolerance, InferenceSettings.RoundingFloor) * Math.Max(initialGradient, 1e-300);
        return objectiveAccuracy > 0 ? Math.Max(relative, Math.Sqrt(2 * objectiveAccuracy / priorVariance)) : relative;
    }

    /// <summary>
    /// Whether the objective is provably within its own rounding of the minimum (½ s² |g|² below
    /// <see cref="InferenceSettings.NewtonObjectiveRounding"/> of its size): a solve that stagnates there has found the mode
    /// as well as float64 can tell, and counts as converged.
    /// </summary>
    public static bool WithinRounding(double gradient, double priorVariance, double objective) =>
        0.5 * priorVariance * gradient * gradient <= InferenceSettings.NewtonObjectiveRounding * Math.Max(1, Math.Abs(objective));
}
