using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The constant prior mean profiled out of a Gaussian-process regression: with H the constant's columns (one per output) and
/// the system's inverse applied to y and to H, the generalized least-squares coefficients b = (Hᵀ K⁻¹ H)⁻¹ Hᵀ K⁻¹ y. The
/// strategies differ only in how they apply K⁻¹; this is what they share.
/// </summary>
internal static class ConstantMeanProfile
{
    /// <summary>b [C] from H [N·C, C], K⁻¹ y [N·C] and K⁻¹ H [N·C, C].</summary>
    public static Tensor Coefficients(Tensor h, Tensor inverseTimesTargets, Tensor inverseTimesColumns) =>
        linalg.solve(h.t().matmul(inverseTimesColumns), h.t().matmul(inverseTimesTargets));
}
