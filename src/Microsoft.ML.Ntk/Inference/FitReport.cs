namespace Microsoft.ML.Ntk.Inference;

/// <summary>What a fit did: the strategy, the hyperparameters it ended with, how the solver ended, and its warnings.</summary>
internal sealed record FitReport(
    InferenceStrategy Strategy,
    double PriorVariance,
    double NoiseVariance,
    double[] ConstantMean,
    double LogMarginalLikelihood,
    int HyperparameterIterations,
    bool HyperparametersConverged,
    int SolverIterations,
    double SolverResidual,
    bool SolverConverged,
    double Jitter,
    TimeSpan Elapsed,
    IReadOnlyList<string> Warnings)
{
    public override string ToString() =>
        $"{Strategy}: s² = {PriorVariance:G4}, σ² = {NoiseVariance:G4}, log marginal likelihood {LogMarginalLikelihood:F3}, " +
        $"solver {SolverIterations} iterations (residual {SolverResidual:E2}{(SolverConverged ? "" : ", NOT converged")}), " +
        $"jitter {Jitter:E2}, {Elapsed.TotalSeconds:F2} s" + (Warnings.Count > 0 ? "; warnings: " + string.Join(" ", Warnings) : "");
}
