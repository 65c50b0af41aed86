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
    IReadOnlyList<string> Warnings,
    double CovarianceScale = 1,
    bool IndependentOutputs = false)
{
    /// <summary>A regression fit's report: the learned (or given) hyperparameters, and the CG solve (none for the dense strategy).</summary>
    public static FitReport Regression(InferenceStrategy strategy, LearnedHyperparameters learned, double[] constantMean, LinearAlgebra.SolveResult? solve,
                                       double jitter, TimeSpan elapsed, IReadOnlyList<string> warnings, bool independentOutputs) =>
        new(strategy, learned.PriorVariance, learned.NoiseVariance, constantMean, learned.LogMarginalLikelihood, learned.Iterations, learned.Converged,
            SolverIterations: solve?.Iterations ?? 0, SolverResidual: solve?.WorstResidual ?? 0, SolverConverged: solve?.Converged ?? true,
            jitter, elapsed, warnings, IndependentOutputs: independentOutputs);

    /// <summary>What a saved posterior keeps of its report: the strategy, the hyperparameters and the log marginal likelihood.</summary>
    public static FitReport Loaded(InferenceStrategy strategy, double priorVariance, double noiseVariance, double[] constantMean, double logMarginalLikelihood) =>
        new(strategy, priorVariance, noiseVariance, constantMean, logMarginalLikelihood, HyperparameterIterations: 0, HyperparametersConverged: true,
            SolverIterations: 0, SolverResidual: 0, SolverConverged: true, Jitter: 0, TimeSpan.Zero, Array.Empty<string>());

    public override string ToString() =>
        $"{Strategy}: s² = {PriorVariance:G4}, σ² = {NoiseVariance:G4}, log marginal likelihood {LogMarginalLikelihood:F3}, " +
        $"solver {SolverIterations} iterations (residual {SolverResidual:E2}{(SolverConverged ? "" : ", NOT converged")}), " +
        $"jitter {Jitter:E2}, {Elapsed.TotalSeconds:F2} s" + (CovarianceScale != 1 ? $", covariance scale {CovarianceScale:G3}" : "") + (Warnings.Count > 0 ? "; warnings: " + string.Join(" ", Warnings) : "");
}
