namespace Microsoft.ML.Ntk;

/// <summary>The likelihood of class labels given the network's outputs.</summary>
public enum ClassificationLikelihood
{
    /// <summary>Softmax (cross-entropy) on the linearized network: MAP by Newton's method, Laplace posterior (the default).</summary>
    Softmax,

    /// <summary>Gaussian regression on one-hot targets: closed form, fastest; probabilities by a softmax of the mean (an approximation).</summary>
    Gaussian,
}

/// <summary>How class probabilities are computed from the Gaussian posterior over the outputs.</summary>
public enum PredictiveApproximation
{
    /// <summary>p ∝ softmax(μ_c / sqrt(1 + π σ_c² / 8)): the probit approximation, deterministic and fast (the default).</summary>
    Probit,

    /// <summary>The average of softmax(f) over samples f ~ N(μ, Σ) with the full C×C covariance.</summary>
    MonteCarlo,
}
