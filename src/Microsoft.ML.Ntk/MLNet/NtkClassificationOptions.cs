using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk;

/// <summary>
/// What both Ntk classification trainers (multiclass and binary) are told beyond <see cref="NtkTrainerOptions"/>: how
/// probabilities are computed from the latent posterior, and the scale of its covariance.
/// </summary>
public abstract class NtkClassificationOptions : NtkTrainerOptions
{
    private protected NtkClassificationOptions() { }

    /// <summary>How probabilities are computed from the latent posterior: probit (default) or Monte Carlo.</summary>
    public PredictiveApproximation PredictiveApproximation = PredictiveApproximation.Probit;

    /// <summary>Samples per prediction with <see cref="PredictiveApproximation.MonteCarlo"/>.</summary>
    public int MonteCarloSamples = 1000;

    /// <summary>
    /// The factor τ on the softmax Laplace covariance of every prediction (the mean is not changed). Null (the default): chosen
    /// on held-out labels, by 5-fold cross-validation of the predictive log likelihood on the already computed kernel, from
    /// 1 down to 0.001; on Fashion-MNIST the Laplace covariance alone left predictions far less confident than accurate.
    /// 1: the Laplace posterior as it is. The Gaussian likelihood takes only null or 1.
    /// </summary>
    public double? CovarianceScale;

    /// <summary>The likelihood the trainer fits with (the binary trainer: always softmax).</summary>
    internal abstract ClassificationLikelihood ChosenLikelihood { get; }

    internal override void Validate()
    {
        base.Validate();
        CheckDefined(PredictiveApproximation, nameof(PredictiveApproximation));
        SettingsMapping.Classification(this, new LinearAlgebra.SolverSettings()).Validate();
    }
}
