namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// When a softmax Newton solve counts as stagnated: <see cref="InferenceSettings.StagnantIterations"/> iterations in a row
/// in which neither the gradient norm fell by 10 % nor the objective fell by more than its rounding
/// (<see cref="InferenceSettings.NewtonObjectiveRounding"/> of its size). Far from the mode, from a prior mean that is
/// confidently wrong, the gradient norm can stay level for several steps while each step lowers the objective a lot;
/// those steps are progress.
/// </summary>
internal sealed class NewtonProgress(double gradient, double objective)
{
    private int withoutProgress;

    /// <summary>Records an iteration's gradient norm and objective; true once the solve has stagnated.</summary>
    public bool Stagnated(double nextGradient, double nextObjective)
    {
        double rounding = InferenceSettings.NewtonObjectiveRounding * Math.Max(1, Math.Abs(objective));
        bool progress = nextGradient < 0.9 * gradient || nextObjective < objective - rounding;
        withoutProgress = progress ? 0 : withoutProgress + 1;
        (gradient, objective) = (nextGradient, nextObjective);
        return withoutProgress >= InferenceSettings.StagnantIterations;
    }
}
