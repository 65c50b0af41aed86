using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The projected training Jacobian W = Rᵀ J(X) [m, P] cut to the directions that matter for predictive variances. With
/// s² W Wᵀ = U diag(μ) Uᵀ (eigenvalues μ in [0, 1): the fraction of prior variance the training data explain along each
/// direction), v(x*) = s² |J*|² − s⁴ |W J*ᵀ|² is computed from F = U_rᵀ W, the r directions with μ above a threshold.
/// The dropped directions make the variance larger, never smaller, by at most μ_{r+1} s² |J*|²; and since the exact
/// variance is at least (1 − μ_1) s² |J*|², the relative error is at most μ_{r+1} / (1 − μ_1). The threshold is
/// <see cref="InferenceSettings.PredictionVarianceTolerance"/> × (1 − μ_1), so that every variance is within that fraction of
/// the exact one (above it). Where the data explain nearly all prior variance along some direction (μ_1 near 1: little noise),
/// the threshold falls towards zero and nothing is cut. Costs W Wᵀ and one m × m eigendecomposition, once, so it is tried for
/// at most <see cref="InferenceSettings.TruncationMaxRows"/> rows.
/// Measured on the per-row benchmark's posterior (small CNN, 250 images of 5 classes, s² = 0.01): μ_1 = 0.73, and 11 of the
/// 1,250 directions exceed 1e-3, 131 exceed 1e-4.
/// </summary>
internal static class SpectralTruncation
{
    /// <summary>F [r, P] when r is at most 90 % of W's rows, else W itself; with the bound reached (0 for W).</summary>
    public static (Tensor Factor, double RelativeError) Apply(Tensor w, double priorVariance, double tolerance)
    {
        long m = w.shape[0];
        if (tolerance <= 0 || m > InferenceSettings.TruncationMaxRows || m < 2) return (w, 0);
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(w.matmul(w.t()));                              // ascending
        double[] mu = values.Times(priorVariance).data<double>().ToArray();
        double top = mu[^1], threshold = tolerance * (1 - top);
        if (!(threshold > 0)) return (w, 0);
        int rank = Math.Max(1, mu.Count(v => v > threshold));
        if (rank > 0.9 * m) return (w, 0);
        double bound = Math.Max(0, mu[m - rank - 1]) / (1 - top);
        Tensor factor = vectors.narrow(1, m - rank, rank).t().matmul(w).contiguous();      // U_rᵀ W: [r, P]
        return (scope.MoveToOuter(factor), bound);
    }
}
