using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The one place where the trainers' options become the inference layer's settings. Adding an option takes its field in
/// <see cref="NtkTrainerOptions"/> (or a trainer's Options) with its check in Validate, a line here, and the code that uses it.
/// </summary>
internal static class SettingsMapping
{
    public static RegressionSettings Regression(NtkTrainerOptions options, SolverSettings solver) =>
        new(options.Mean, options.PriorVariance, options.NoiseVariance, options.Strategy, solver, Seed: options.Seed,
            IndependentOutputs: options.IndependentOutputs ?? false, NoiseFloor: options.NoiseVarianceFloor);

    public static ClassificationSettings Classification(NtkClassificationOptions options, SolverSettings solver) =>
        new(options.ChosenLikelihood, options.PredictiveApproximation, options.MonteCarloSamples, Regression(options, solver), options.CovarianceScale,
            options.IndependentOutputs);
}
