using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>The low-rank preconditioner of the conjugate-gradient Newton steps against the dense matrix it stands for.</summary>
public class CurvaturePreconditionerTests
{
    public CurvaturePreconditionerTests() => TorchSharpLoader.EnsureLoaded();

    /// <summary>C kernel blocks [C, N, N] with decaying spectra, probabilities p [N, C] and the curvature roots.</summary>
    private static (Tensor Blocks, Tensor P, Tensor Root) Problem(long n, long c, long seed)
    {
        manual_seed(seed);
        Tensor features = randn(c, n, 60, dtype: ScalarType.Float64) * logspace(1, -2, 60, dtype: ScalarType.Float64);
        Tensor blocks = features.matmul(features.transpose(1, 2));
        Tensor p = randn(n, c, dtype: ScalarType.Float64).mul(2).softmax(1);
        return (blocks, p, CurvatureKernelOperator.CurvatureRoots(p));
    }

    /// <summary>A = I + W^½ s² blockdiag(K_c) W^½ as a dense [N·C, N·C] matrix (layout n·C + c).</summary>
    private static Tensor Dense(Tensor blocks, Tensor root, double s2)
    {
        long c = blocks.shape[0], n = blocks.shape[1];
        Tensor k = zeros(n * c, n * c, dtype: ScalarType.Float64);
        for (long i = 0; i < c; i++) k[TensorIndex.Slice(i, null, c), TensorIndex.Slice(i, null, c)] = blocks[i];
        Tensor w = block_diag(root.unbind(0));
        return eye(n * c, dtype: ScalarType.Float64) + w.matmul(k).matmul(w) * s2;
    }

    [Fact]
    public void ItAppliesTheInverseOfTheSystemWithTheKernelReplacedByItsFactor()
    {
        var (blocks, p, root) = Problem(n: 9, c: 3, seed: 1);
        const double s2 = 0.7;
        Tensor factor = PivotedCholesky.FactorBlocks(blocks, rank: 4);
        Tensor approximate = Dense(factor.matmul(factor.transpose(1, 2)), root, s2);
        Tensor x = randn(27, 2, dtype: ScalarType.Float64);
        Tolerances.AssertClose(new CurvaturePreconditioner(factor, p, root, s2).Apply(x), linalg.solve(approximate, x), Tolerances.Float64, "M⁻¹ x");
    }

    [Fact]
    public void ItCutsTheConjugateGradientStepsOfANewtonSystemAndKeepsItsSolution()
    {
        var (blocks, p, root) = Problem(n: 150, c: 3, seed: 2);
        const double s2 = 50;
        var a = new CurvatureKernelOperator(blocks, root, s2);
        Tensor rhs = randn(450, 1, dtype: ScalarType.Float64);
        var settings = new SolverSettings(Tolerance: 1e-10, MaxIterations: 2000);
        var plain = ConjugateGradients.Solve(a, rhs, null, settings);
        var preconditioned = ConjugateGradients.Solve(a, rhs, new CurvaturePreconditioner(PivotedCholesky.FactorBlocks(blocks, rank: 20), p, root, s2), settings);
        Assert.True(plain.Converged && preconditioned.Converged);
        Assert.True(preconditioned.Iterations * 3 <= plain.Iterations, $"preconditioned {preconditioned.Iterations} steps against {plain.Iterations} without");
        Tolerances.AssertClose(preconditioned.Solution, linalg.solve(Dense(blocks, root, s2), rhs), 1e-8, "the Newton system's solution");
    }
}
