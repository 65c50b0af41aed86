using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A root R of the inverse of the training system, (s² K0 + σ² I)⁻¹ ≈ R Rᵀ, which is all the latent variance needs:
/// v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|². The dense strategy keeps the Cholesky factor L (R = L⁻ᵀ, exact).
/// </summary>
internal sealed class KernelInverseRoot
{
    private KernelInverseRoot(Tensor lowerCholesky) => LowerCholesky = lowerCholesky;

    /// <summary>L with L Lᵀ = s² K0 + σ² I (+ jitter), float64, [n, n].</summary>
    public Tensor LowerCholesky { get; }

    public static KernelInverseRoot FromCholesky(Tensor lower) => new(lower);

    /// <summary>Rᵀ B for B of shape [n, m].</summary>
    public Tensor ApplyTransposed(Tensor b) => linalg.solve_triangular(LowerCholesky, b.to(ScalarType.Float64), upper: false);

    /// <summary>Stored size in bytes: n² float64 values.</summary>
    public long Bytes => LowerCholesky.numel() * sizeof(double);
}
