using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// M = I + W^½ s² G Gᵀ W^½ ≈ A = I + W^½ s² K W^½ (<see cref="CurvatureKernelOperator"/>), for the conjugate-gradient Newton
/// steps of independent outputs: G_c [N, r] is a pivoted Cholesky factor of K_c (<see cref="PivotedCholesky.FactorBlocks"/>),
/// taken once per fit since K does not change. With U = s W^½ blockdiag(G_c), M⁻¹ = I − U (I + UᵀU)⁻¹ Uᵀ (Woodbury), and
/// UᵀU = s² Gᵀ W G needs no roots: its block (c, c′) is G_cᵀ diag(δ_cc′ p_c − p_c p_c′) G_c′. One Cholesky of C·r × C·r per
/// Newton step, then four thin products per application. A's eigenvalues beyond the factor's rank are those of the residual
/// K_c − G_c G_cᵀ, so M⁻¹A is well conditioned when K's spectrum decays (on 1,000 Fashion-MNIST images at rank 50: 21
/// conjugate-gradient steps instead of 471).
/// </summary>
internal sealed class CurvaturePreconditioner : IPreconditioner
{
    private readonly Tensor factor, root, lower;
    private readonly double scale;
    private readonly long n, c, r;

    /// <param name="factor">G [C, N, r].</param>
    /// <param name="probabilities">p [N, C].</param>
    /// <param name="root">W^½ [N, C, C] (<see cref="CurvatureKernelOperator.CurvatureRoots"/>).</param>
    /// <param name="priorVariance">s².</param>
    public CurvaturePreconditioner(Tensor factor, Tensor probabilities, Tensor root, double priorVariance)
    {
        (this.factor, this.root, scale) = (factor, root, Math.Sqrt(priorVariance));
        (c, n, r) = (factor.shape[0], factor.shape[1], factor.shape[2]);
        using var scope = NewDisposeScope();
        Tensor weighted = factor * probabilities.t().unsqueeze(2);                            // diag(p_c) G_c: [C, N, r]
        Tensor own = factor.transpose(1, 2).matmul(weighted);                                 // G_cᵀ diag(p_c) G_c: [C, r, r]
        Tensor across = weighted.permute(1, 0, 2).reshape(n, c * r);                          // [N, C·r]
        Tensor inner = (block_diag(own.unbind(0)) - across.t().matmul(across)).TimesInPlace(priorVariance);
        inner.diagonal().AccumulateConstant(1.0);                                            // I + UᵀU
        lower = scope.MoveToOuter(linalg.cholesky(inner));
    }

    public Tensor Apply(Tensor residuals)
    {
        using var scope = NewDisposeScope();
        long k = residuals.shape[1];
        Tensor u = root.bmm(residuals.reshape(n, c, k));                                       // W^½ x: [N, C, k]
        Tensor projected = factor.transpose(1, 2).matmul(u.permute(1, 0, 2)).reshape(c * r, k).Times(scale);  // Uᵀ x
        Tensor w = cholesky_solve(projected, lower).reshape(c, r, k);
        Tensor back = factor.matmul(w).permute(1, 0, 2).contiguous();                        // blockdiag(G_c) w: [N, C, k]
        return scope.MoveToOuter(residuals - root.bmm(back).reshape(n * c, k).Times(scale));
    }
}
