using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Everything a regression fit is told: the prior mean, fixed or learned hyperparameters, the strategy and the solver's
/// limits; for the iterative strategies also the Rademacher probes and Lanczos steps of the stochastic marginal
/// likelihood (and of the variance root), the rank of the pivoted-Cholesky preconditioner, and the seed of the probes.
/// ExactVariances: whether the iterative strategies take predictive variances from the exact factor of the explicit
/// kernel (null: while <see cref="StrategyChoice.DenseAffordable"/>) or from their Lanczos roots. NoiseFloor: the floor of a
/// learned σ² relative to var(y − m) (<see cref="HyperparameterSpec.NoiseFloor"/>).
/// </summary>
internal sealed record RegressionSettings(
    PriorMean Mean = PriorMean.Network,
    double? PriorVariance = null,
    double? NoiseVariance = null,
    InferenceStrategy Strategy = InferenceStrategy.Auto,
    SolverSettings? Solver = null,
    int Probes = 16,
    int LanczosSteps = 100,
    int PreconditionerRank = 30,
    int Seed = 0,
    bool IndependentOutputs = false,
    bool? ExactVariances = null,
    double NoiseFloor = InferenceSettings.DefaultNoiseFloor)
{
    public HyperparameterSpec Hyperparameters => new(PriorVariance, NoiseVariance, NoiseFloor);
    public SolverSettings SolverOrDefault => Solver ?? new SolverSettings();
}
