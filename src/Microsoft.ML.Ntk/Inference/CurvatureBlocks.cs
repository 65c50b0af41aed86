using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The softmax curvature Λ = blockdiag(diag(p_n) − p_n p_nᵀ) at probabilities p [N, C] and its symmetric square root
/// S = Λ^½, kept as N blocks of C×C (float64) and applied block by block, so that S K S costs N·C² per kernel row and
/// not (N·C)².
/// </summary>
internal sealed class CurvatureBlocks
{
    private CurvatureBlocks(Tensor curvature, Tensor root)
    {
        Curvature = curvature;
        Root = root;
    }

    /// <summary>Λ's blocks, [N, C, C].</summary>
    public Tensor Curvature { get; }

    /// <summary>S's blocks, [N, C, C]: the eigenvectors of each block with the square roots of its (clamped) eigenvalues.</summary>
    public Tensor Root { get; }

    public long Count => Root.shape[0];
    public long Classes => Root.shape[1];

    public static CurvatureBlocks At(Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        Tensor p = probabilities.to(ScalarType.Float64);
        Tensor blocks = diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1);
        var (values, vectors) = linalg.eigh(blocks);
        Tensor root = (vectors * values.AtLeast(0).sqrt().unsqueeze(1)).matmul(vectors.transpose(1, 2));
        return new CurvatureBlocks(scope.MoveToOuter(blocks), scope.MoveToOuter(root));
    }

    /// <summary>Λ v for a vector v [N·C].</summary>
    public Tensor ApplyCurvature(Tensor v) => Curvature.matmul(v.reshape(Count, Classes, 1)).reshape(-1);

    /// <summary>S M for M [N·C, k]: each block of C rows multiplied by its root.</summary>
    public Tensor ApplyRoot(Tensor m) => Root.matmul(m.reshape(Count, Classes, -1)).reshape(m.shape);

    /// <summary>S M S for a symmetric M [N·C, N·C].</summary>
    public Tensor Sandwich(Tensor m)
    {
        using var scope = NewDisposeScope();
        Tensor left = ApplyRoot(m);
        return scope.MoveToOuter(ApplyRoot(left.t()).t());
    }

    /// <summary>S as a dense [N·C, N·C] matrix (what the saved Laplace root holds).</summary>
    public Tensor Dense() => block_diag(Root.unbind(0));
}
