namespace Microsoft.ML.Ntk;

/// <summary>
/// What a fit did: the strategy, the training size, the number of adapted parameters, the hyperparameters it ended with,
/// the log marginal likelihood (the Laplace evidence for softmax classification), how the solver ended, the time taken
/// and any warnings (an unconverged solver, hyperparameters at the edge of their range); for softmax classification the
/// factor on the Laplace covariance (1 when not scaled; chosen on held-out labels by default), and whether the outputs'
/// kernels were independent (<see cref="NtkTrainerOptions.IndependentOutputs"/>; a softmax fit chooses when not told).
/// </summary>
public sealed record NtkFitSummary(
    InferenceStrategy Strategy,
    long TrainingRows,
    long AdaptedParameters,
    double PriorVariance,
    double NoiseVariance,
    double LogMarginalLikelihood,
    int HyperparameterIterations,
    int SolverIterations,
    double SolverResidual,
    bool SolverConverged,
    TimeSpan Elapsed,
    IReadOnlyList<string> Warnings,
    double CovarianceScale = 1,
    bool IndependentOutputs = false)
{
    /// <summary>One line for logs.</summary>
    public override string ToString() =>
        $"{Strategy} on {TrainingRows} rows, {AdaptedParameters} adapted parameters: s² = {PriorVariance:G4}, σ² = {NoiseVariance:G4}, " +
        $"log marginal likelihood {LogMarginalLikelihood:F3}, {HyperparameterIterations} hyperparameter iterations, solver {SolverIterations} " +
        $"iterations (residual {SolverResidual:E2}{(SolverConverged ? "" : ", NOT converged")}), {Elapsed.TotalSeconds:F2} s" +
        (CovarianceScale != 1 ? $", covariance scale {CovarianceScale:G3}" : "") +
        (IndependentOutputs ? ", independent outputs" : "") + (Warnings.Count > 0 ? "; warnings: " + string.Join(" ", Warnings) : "");
}
