using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>M⁻¹ for a preconditioner M ≈ A: applied to a block of residuals [n, k] in float64.</summary>
internal interface IPreconditioner
{
    Tensor Apply(Tensor residuals);
}

/// <summary>M = diag(A) (Jacobi).</summary>
internal sealed class DiagonalPreconditioner(Tensor diagonal) : IPreconditioner
{
    private readonly Tensor inverse = diagonal.to(ScalarType.Float64).AtLeast(1e-300).unsqueeze(1).reciprocal();

    public Tensor Apply(Tensor residuals) => inverse * residuals;
}

/// <summary>
/// M = L Lᵀ + σ² I for a low-rank factor L [n, r] (from a pivoted Cholesky of the kernel) and the noise variance σ².
/// By Woodbury, M⁻¹ = (I − L (σ² I + LᵀL)⁻¹ Lᵀ) / σ²: one r×r Cholesky, then two thin products per application.
/// </summary>
internal sealed class LowRankPlusNoisePreconditioner : IPreconditioner
{
    private readonly Tensor factor, innerCholesky;
    private readonly double noise;

    public LowRankPlusNoisePreconditioner(Tensor factor, double noiseVariance)
    {
        if (!(noiseVariance > 0)) throw new ArgumentOutOfRangeException(nameof(noiseVariance), noiseVariance, "The noise variance must be positive.");
        this.factor = factor.to(ScalarType.Float64);
        noise = noiseVariance;
        long r = this.factor.shape[1];
        Tensor inner = this.factor.t().matmul(this.factor).Plus(eye(r, dtype: ScalarType.Float64, device: this.factor.device).Times(noise));
        innerCholesky = linalg.cholesky(inner);
    }

    public Tensor Apply(Tensor residuals)
    {
        if (factor.shape[1] == 0) return residuals.Over(noise);
        Tensor projected = cholesky_solve(factor.t().matmul(residuals), innerCholesky);
        return (residuals - factor.matmul(projected)).Over(noise);
    }
}

/// <summary>M = L Lᵀ for a Cholesky factor L of the system itself (or of a close one): M⁻¹ r by two triangular solves.</summary>
internal sealed class CholeskyPreconditioner(Tensor lower) : IPreconditioner
{
    public Tensor Apply(Tensor residuals) => cholesky_solve(residuals.to(ScalarType.Float64), lower);
}
