using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// What a classification fit is told: the likelihood, the prior mean (network outputs or zero), the prior variance s²
/// (null: chosen by the Laplace evidence), the noise variance of the Gaussian likelihood (null: learned), how
/// probabilities are predicted, the Monte Carlo sample count and seed, the solver's limits, and whether the outputs'
/// kernels are independent; the regression strategy and noise floor of the Gaussian likelihood.
/// </summary>
internal sealed record ClassificationSettings(
    ClassificationLikelihood Likelihood = ClassificationLikelihood.Softmax,
    PriorMean Mean = PriorMean.Network,
    double? PriorVariance = null,
    double? NoiseVariance = null,
    PredictiveApproximation Predictive = PredictiveApproximation.Probit,
    int MonteCarloSamples = 1000,
    int Seed = 0,
    SolverSettings? Solver = null,
    bool IndependentOutputs = false,
    InferenceStrategy Strategy = InferenceStrategy.Auto,
    double NoiseFloor = InferenceSettings.DefaultNoiseFloor)
{
    public SolverSettings SolverOrDefault => Solver ?? new SolverSettings();

    public void Validate()
    {
        new HyperparameterSpec(PriorVariance, NoiseVariance, NoiseFloor).Validate();
        SolverOrDefault.Validate();
        if (Likelihood == ClassificationLikelihood.Softmax && Mean == PriorMean.Constant)
            throw new NotSupportedException("A constant prior mean is not available with the softmax likelihood; use Network or Zero.");
        if (Likelihood == ClassificationLikelihood.Softmax && Strategy is not (InferenceStrategy.Auto or InferenceStrategy.Dense))
            throw new NotSupportedException($"The softmax likelihood's Laplace posterior uses the dense strategy; {Strategy} is available with the Gaussian likelihood.");
        if (MonteCarloSamples < 1) throw new ArgumentOutOfRangeException(nameof(MonteCarloSamples), MonteCarloSamples, "At least one sample is needed.");
    }
}
