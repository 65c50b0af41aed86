using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// What a classification fit is told: the likelihood, how probabilities are predicted and the Monte Carlo sample count, and
/// the Gaussian-process settings it shares with regression (<see cref="Gp"/>: the prior mean, the prior variance s² (null:
/// chosen by the evidence), the noise variance and floor of the Gaussian likelihood, the strategy, the solver's limits, the
/// seed), whether the outputs' kernels are independent (null: the full kernel, except for a softmax fit beyond
/// <see cref="InferenceSettings.FullKernelLimit"/>; <see cref="StrategyChoice.IndependentSoftmaxOutputs"/>), and the scale of the softmax Laplace covariance. The Gaussian likelihood is a regression with exactly those.
/// </summary>
internal sealed record ClassificationSettings
{
    /// <summary>Every setting by name (the shared ones go into <see cref="Gp"/>).</summary>
    public ClassificationSettings(
        ClassificationLikelihood Likelihood = ClassificationLikelihood.Softmax,
        PriorMean Mean = PriorMean.Network,
        double? PriorVariance = null,
        double? NoiseVariance = null,
        PredictiveApproximation Predictive = PredictiveApproximation.Probit,
        int MonteCarloSamples = 1000,
        int Seed = 0,
        SolverSettings? Solver = null,
        bool? IndependentOutputs = null,
        InferenceStrategy Strategy = InferenceStrategy.Auto,
        double NoiseFloor = InferenceSettings.DefaultNoiseFloor,
        double? CovarianceScale = null)
        : this(Likelihood, Predictive, MonteCarloSamples,
               new RegressionSettings(Mean, PriorVariance, NoiseVariance, Strategy, Solver, Seed: Seed, IndependentOutputs: IndependentOutputs ?? false, NoiseFloor: NoiseFloor),
               CovarianceScale, IndependentOutputs)
    {
    }

    /// <summary>
    /// The classification settings around the regression settings they share; <paramref name="independentOutputs"/> null
    /// takes the regression settings' choice when it is true, and otherwise leaves the softmax fit to choose by size.
    /// </summary>
    public ClassificationSettings(ClassificationLikelihood likelihood, PredictiveApproximation predictive, int monteCarloSamples, RegressionSettings gp,
                                  double? covarianceScale = null, bool? independentOutputs = null)
    {
        IndependentOutputs = independentOutputs ?? (gp.IndependentOutputs ? true : null);
        CovarianceScale = covarianceScale;
        Likelihood = likelihood;
        Predictive = predictive;
        MonteCarloSamples = monteCarloSamples;
        Gp = gp;
    }

    public ClassificationLikelihood Likelihood { get; }
    public PredictiveApproximation Predictive { get; }
    public int MonteCarloSamples { get; }

    /// <summary>τ, the factor on the softmax Laplace covariance; null: chosen on held-out labels (<see cref="CovarianceScaleSelection"/>).</summary>
    public double? CovarianceScale { get; }

    /// <summary>The settings shared with regression; a Gaussian-likelihood fit uses them as they are.</summary>
    public RegressionSettings Gp { get; }

    public PriorMean Mean => Gp.Mean;
    public double? PriorVariance => Gp.PriorVariance;
    public double? NoiseVariance => Gp.NoiseVariance;
    public int Seed => Gp.Seed;
    public SolverSettings? Solver => Gp.Solver;
    /// <summary>Independent outputs as asked; null: the full kernel, except for a softmax fit beyond <see cref="InferenceSettings.FullKernelLimit"/>.</summary>
    public bool? IndependentOutputs { get; }

    public InferenceStrategy Strategy => Gp.Strategy;
    public double NoiseFloor => Gp.NoiseFloor;

    public SolverSettings SolverOrDefault => Solver ?? new SolverSettings();

    public void Validate()
    {
        new HyperparameterSpec(PriorVariance, NoiseVariance, NoiseFloor).Validate();
        SolverOrDefault.Validate();
        if (Likelihood == ClassificationLikelihood.Softmax && Mean == PriorMean.Constant)
            throw new NotSupportedException("A constant prior mean is not available with the softmax likelihood; use Network or Zero.");
        if (Likelihood == ClassificationLikelihood.Softmax && Strategy is not (InferenceStrategy.Auto or InferenceStrategy.Dense))
            throw new NotSupportedException($"The softmax likelihood's Laplace posterior uses the dense strategy; {Strategy} is available with the Gaussian likelihood.");
        if (CovarianceScale is { } tau && !(tau > 0 && double.IsFinite(tau)))
            throw new ArgumentOutOfRangeException(nameof(CovarianceScale), tau, "The covariance scale must be positive and finite (null: chosen on held-out labels).");
        if (Likelihood == ClassificationLikelihood.Gaussian && CovarianceScale is not (null or 1))
            throw new NotSupportedException($"A covariance scale ({CovarianceScale}) applies to the softmax likelihood's Laplace covariance; the Gaussian likelihood takes null or 1.");
        if (MonteCarloSamples < 1) throw new ArgumentOutOfRangeException(nameof(MonteCarloSamples), MonteCarloSamples, "At least one sample is needed.");
    }
}
