using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Class probabilities from a Gaussian over the latent values, as the fitted posterior predicts them and as the held-out
/// choice of the covariance scale scores them: the probit approximation from each class's variance, or the Monte Carlo
/// average of the softmax over the full C×C covariance with draws from the seed alone.
/// </summary>
internal static class SoftmaxPredictive
{
    /// <summary>softmax (or, with one output, sigmoid) of μ / sqrt(1 + π v / 8); mean and variance [B, C].</summary>
    public static Tensor Probit(Tensor mean, Tensor variance) => SoftmaxLink.Probabilities(ProbitScaled(mean, variance));

    /// <summary>The probit approximation's scaled latent mean μ / sqrt(1 + π v / 8).</summary>
    public static Tensor ProbitScaled(Tensor mean, Tensor variance) => mean / variance.Times(Math.PI / 8).PlusConstant(1).sqrt();

    /// <summary>
    /// The mean of softmax(μ + L z) over standard normal z, L Lᵀ = Σ (+ jitter); mean [B, C], covariance [B, C, C]. Every
    /// row uses the same draws z (from the seed alone), so a row's probabilities do not depend on the rows predicted with it.
    /// </summary>
    public static Tensor MonteCarlo(Tensor mean, Tensor covariance, int samples, int seed)
    {
        long c = mean.shape[1];
        Tensor jitter = covariance.diagonal(0, 1, 2).mean(new long[] { 1 }, keepdim: true).AtLeast(1e-12).Times(1e-10).unsqueeze(2)
                        * eye(c, dtype: ScalarType.Float64);
        Tensor lower = linalg.cholesky(covariance.Plus(jitter));
        Tensor z = Draws(samples, c, seed, mean.device).unsqueeze(1);                                // [S, 1, C], shared by the rows
        Tensor draws = mean.unsqueeze(0).Plus(lower.unsqueeze(0).matmul(z.unsqueeze(3)).squeeze(3));
        return SoftmaxLink.Probabilities(draws, dim: 2).mean(new long[] { 0 });
    }

    /// <summary>The Monte Carlo predictive's standard normal draws, [samples, width], from the seed alone.</summary>
    public static Tensor Draws(int samples, long width, int seed, Device device)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)(seed * 1_000_003L));
        return randn(new long[] { samples, width }, generator: generator, dtype: ScalarType.Float64).to(device);
    }

    /// <summary>The probabilities the settings ask for, from the latent mean [B, C] and covariance [B, C, C].</summary>
    public static Tensor Probabilities(Tensor mean, Tensor covariance, ClassificationSettings settings) =>
        settings.Predictive == PredictiveApproximation.Probit
            ? Probit(mean, covariance.diagonal(0, 1, 2).AtLeast(0))
            : MonteCarlo(mean, covariance, settings.MonteCarloSamples, settings.Seed);
}
