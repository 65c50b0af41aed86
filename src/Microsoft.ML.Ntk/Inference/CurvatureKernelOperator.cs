using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A = I + W^½ (s² K) W^½ on the N·C latent values of a softmax mode (layout n·C + c), for independent outputs: K is the C
/// blocks K_c [C, N, N], and W^½ the symmetric roots [N, C, C] of each input's softmax curvature W_n = diag(p_n) − p_n p_nᵀ.
/// A is symmetric with eigenvalues at least 1, so conjugate gradients solve it in few steps while s² K W is moderate; each
/// product costs C products with an N × N block, against C factorizations of N × N for the same Newton step by factors.
/// </summary>
internal sealed class CurvatureKernelOperator(Tensor blocks, Tensor root, double priorVariance) : LinearOperator
{
    private readonly long n = root.shape[0], c = root.shape[1];

    public override long Rows => n * c;
    public override long Columns => n * c;
    public override ScalarType DType => ScalarType.Float64;
    public override Device Device => root.device;

    /// <summary>The symmetric roots W_n^½ [N, C, C] at probabilities p [N, C] (eigenvalues below zero by rounding taken as zero).</summary>
    public static Tensor CurvatureRoots(Tensor p)
    {
        using var scope = NewDisposeScope();
        Tensor curvature = diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1);
        var (values, vectors) = linalg.eigh(curvature);
        Tensor root = (vectors * values.AtLeast(0).sqrt().unsqueeze(1)).matmul(vectors.transpose(1, 2));
        return scope.MoveToOuter(root);
    }

    /// <summary>W^½ v for v [N, C, k] (or [N, C]).</summary>
    public static Tensor ApplyRoot(Tensor root, Tensor v) => v.dim() == 2 ? root.bmm(v.unsqueeze(2)).squeeze(2) : root.bmm(v);

    protected override Tensor MultiplyCore(Tensor x)
    {
        long k = x.shape[1];
        Tensor u = ApplyRoot(root, x.reshape(n, c, k));                                   // [N, C, k]
        Tensor ku = BlockDiagonal.Times(blocks, u.permute(1, 0, 2)).permute(1, 0, 2).Times(priorVariance); // block c on class c: [N, C, k]
        return x.Plus(ApplyRoot(root, ku).reshape(n * c, k));
    }

    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);
}
