using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>Everything a regression fit is told: the prior mean, fixed or learned hyperparameters, the strategy and the solver's limits.</summary>
internal sealed record RegressionSettings(
    PriorMean Mean = PriorMean.Network,
    double? PriorVariance = null,
    double? NoiseVariance = null,
    InferenceStrategy Strategy = InferenceStrategy.Auto,
    SolverSettings? Solver = null)
{
    public HyperparameterSpec Hyperparameters => new(PriorVariance, NoiseVariance);
    public SolverSettings SolverOrDefault => Solver ?? new SolverSettings();
}
