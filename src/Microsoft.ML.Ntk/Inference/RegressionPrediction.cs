using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Predictions for B inputs and C outputs, float64 [B, C]: the posterior mean, the latent variance of f(x*) and the
/// predictive variance (latent plus noise). Latent variances that rounding made negative are clamped to zero and counted.
/// </summary>
internal sealed record RegressionPrediction(Tensor Mean, Tensor LatentVariance, Tensor PredictiveVariance, long ClampedVariances);
