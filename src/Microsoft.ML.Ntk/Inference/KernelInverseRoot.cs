using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A root R of the inverse of the training system, (s² K0 + σ² I)⁻¹ ≈ R Rᵀ, which is all the latent variance needs:
/// v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|². Dense strategy: R = L⁻ᵀ from the Cholesky factor L (exact; (N·C)²
/// values). Iterative strategies: R = Q L_T⁻ᵀ from a Lanczos basis Q [N·C, m] and the Cholesky factor of
/// s² T + σ² I (N·C·m + m² values); it explains the variance within the Krylov space only, so variances come out
/// larger than exact ones (never smaller), and exact once m reaches N·C. Laplace (softmax classification):
/// (s² K0 + Λ⁻¹)⁻¹ = Λ^½ B⁻¹ Λ^½ with B = I + s² Λ^½ K0 Λ^½ = L Lᵀ, so R = Λ^½ L⁻ᵀ (Λ may be singular).
/// In general R = M L⁻ᵀ for a left factor M (the identity, Q, or Λ^½) and a Cholesky factor L.
/// </summary>
internal sealed class KernelInverseRoot
{
    private KernelInverseRoot(Tensor? leftFactor, Tensor lowerCholesky)
    {
        LeftFactor = leftFactor;
        LowerCholesky = lowerCholesky;
    }

    /// <summary>M: Q [n, m] or Λ^½ [n, n] in float64, or null for the identity.</summary>
    public Tensor? LeftFactor { get; }

    /// <summary>L (dense: of s² K0 + σ² I; Lanczos: of s² T + σ² I; Laplace: of B), float64.</summary>
    public Tensor LowerCholesky { get; }

    public static KernelInverseRoot FromCholesky(Tensor lower) => new(null, lower);

    public static KernelInverseRoot FromLanczos(Tensor basis, Tensor tridiagonal, double priorVariance, double noiseVariance)
    {
        if (basis.dtype != ScalarType.Float64) throw new ArgumentException("The Lanczos basis must be float64.");
        return new KernelInverseRoot(basis, TridiagonalFactor(tridiagonal, priorVariance, noiseVariance));
    }

    /// <summary>
    /// The Cholesky factor of s² T + σ² I for a Lanczos tridiagonal T of a positive semi-definite operator. Inexact
    /// (float32) products can leave T with slightly negative eigenvalues, which s² ≫ σ² would turn into a failed
    /// factorization: they are set to zero first (T = V max(Θ, 0) Vᵀ).
    /// </summary>
    public static Tensor TridiagonalFactor(Tensor tridiagonal, double priorVariance, double noiseVariance)
    {
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(tridiagonal.to(ScalarType.Float64));
        Tensor system = vectors.matmul(diag(values.AtLeast(0).Times(priorVariance).PlusConstant(noiseVariance))).matmul(vectors.t());
        return scope.MoveToOuter(DenseCholesky.Factor(system.Plus(system.t()).Times(0.5)).Lower);
    }

    public static KernelInverseRoot FromLaplace(Tensor curvatureRoot, Tensor lowerCholesky) => new(curvatureRoot, lowerCholesky);

    /// <summary>Rᵀ B for B of shape [n, k].</summary>
    public Tensor ApplyTransposed(Tensor b)
    {
        Tensor projected = LeftFactor is null ? b.to(ScalarType.Float64) : LeftFactor.t().matmul(b.to(ScalarType.Float64));
        return linalg.solve_triangular(LowerCholesky, projected, upper: false);
    }

    /// <summary>R X for X of shape [m, k] (m the columns of R): [n, k].</summary>
    public Tensor Apply(Tensor x)
    {
        Tensor solved = linalg.solve_triangular(LowerCholesky.t(), x.to(ScalarType.Float64), upper: true);
        return LeftFactor is null ? solved : LeftFactor.matmul(solved);
    }

    /// <summary>n, the rows of R: the training outputs N·C.</summary>
    public long Rows => LeftFactor?.shape[0] ?? LowerCholesky.shape[0];

    /// <summary>Stored size in bytes.</summary>
    public long Bytes => ((LeftFactor?.numel() ?? 0) + LowerCholesky.numel()) * sizeof(double);
}
