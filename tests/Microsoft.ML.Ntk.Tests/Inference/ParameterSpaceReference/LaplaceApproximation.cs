using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference.ParameterSpaceReference;

/// <summary>
/// The Laplace posterior of the softmax model in function space, at the MAP probabilities p̂: with Λ = blockdiag(diag(p̂_i)
/// − p̂_i p̂_iᵀ) and its symmetric square root S, B = I + s² S K0 S = L Lᵀ; the latent covariance is
/// s² K0** − s⁴ K0*X S B⁻¹ S K0X* (a root R = S L⁻ᵀ), and the evidence is
/// log q(y) = −|Δθ̂|² / (2 s²) − Σ CE(y, p̂) − ½ log det B.
/// </summary>
internal static class LaplaceApproximation
{
    public static (KernelInverseRoot Root, double LogDeterminant, double Jitter) Factor(Tensor kernel, Tensor probabilities, double priorVariance)
    {
        using var scope = NewDisposeScope();
        Tensor root = CurvatureRoot(probabilities);
        long n = root.shape[0];
        Tensor b = eye(n, dtype: ScalarType.Float64) + priorVariance * root.matmul(kernel).matmul(root);
        var cholesky = DenseCholesky.Factor(0.5 * (b + b.t()));
        double logDet = cholesky.LogDeterminant();
        return (KernelInverseRoot.FromLaplace(scope.MoveToOuter(root), scope.MoveToOuter(cholesky.Lower)), logDet, cholesky.Jitter);
    }

    /// <summary>S = Λ^½, block-diagonal [N·C, N·C] from the per-input C×C blocks diag(p) − p pᵀ.</summary>
    public static Tensor CurvatureRoot(Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        Tensor p = probabilities.to(ScalarType.Float64);
        Tensor blocks = diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1);           // [N, C, C]
        var (values, vectors) = linalg.eigh(blocks);
        Tensor roots = vectors.matmul(diag_embed(values.clamp_min(0).sqrt())).matmul(vectors.transpose(1, 2));
        return scope.MoveToOuter(block_diag(roots.unbind(0)));
    }
}
