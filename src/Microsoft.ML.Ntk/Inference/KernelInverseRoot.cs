using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A root R of the inverse of the training system, (s² K0 + σ² I)⁻¹ ≈ R Rᵀ, which is all the latent variance needs:
/// v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|². Dense strategy: R = L⁻ᵀ from the Cholesky factor L (exact; (N·C)²
/// values). Iterative strategies: R = Q L_T⁻ᵀ from a Lanczos basis Q [N·C, m] and the Cholesky factor of
/// s² T + σ² I (N·C·m + m² values); it explains the variance within the Krylov space only, so variances come out
/// larger than exact ones (never smaller), and exact once m reaches N·C.
/// </summary>
internal sealed class KernelInverseRoot
{
    private KernelInverseRoot(Tensor? basis, Tensor lowerCholesky)
    {
        Basis = basis;
        LowerCholesky = lowerCholesky;
    }

    /// <summary>Q, [n, m] in float64, or null for the dense root.</summary>
    public Tensor? Basis { get; }

    /// <summary>L (dense: of s² K0 + σ² I; Lanczos: of s² T + σ² I), float64.</summary>
    public Tensor LowerCholesky { get; }

    public static KernelInverseRoot FromCholesky(Tensor lower) => new(null, lower);

    public static KernelInverseRoot FromLanczos(Tensor basis, Tensor tridiagonal, double priorVariance, double noiseVariance)
    {
        using var scope = NewDisposeScope();
        Tensor system = priorVariance * tridiagonal + noiseVariance * eye(tridiagonal.shape[0], dtype: ScalarType.Float64);
        if (basis.dtype != ScalarType.Float64) throw new ArgumentException("The Lanczos basis must be float64.");
        return new KernelInverseRoot(basis, scope.MoveToOuter(linalg.cholesky(system)));
    }

    /// <summary>Rᵀ B for B of shape [n, k].</summary>
    public Tensor ApplyTransposed(Tensor b)
    {
        Tensor projected = Basis is null ? b.to(ScalarType.Float64) : Basis.t().matmul(b.to(ScalarType.Float64));
        return linalg.solve_triangular(LowerCholesky, projected, upper: false);
    }

    /// <summary>Stored size in bytes.</summary>
    public long Bytes => ((Basis?.numel() ?? 0) + LowerCholesky.numel()) * sizeof(double);
}
