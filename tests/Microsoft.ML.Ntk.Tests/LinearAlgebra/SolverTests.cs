using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.LinearAlgebra;

/// <summary>Conjugate gradients, preconditioners, pivoted Cholesky, Lanczos and dense Cholesky against dense float64 answers.</summary>
public class SolverTests
{
    public SolverTests() => TorchSharpLoader.EnsureLoaded();

    /// <summary>A kernel-like SPD matrix: a low-rank-ish PSD part with decaying spectrum plus noise·I.</summary>
    private static Tensor KernelLike(long n, double noise, long seed)
    {
        manual_seed(seed);
        Tensor features = randn(n, 40, dtype: ScalarType.Float64) * linspace(3, 0.05, 40, dtype: ScalarType.Float64);
        return features.matmul(features.t()) + noise * eye(n, dtype: ScalarType.Float64);
    }

    [Fact]
    public void ConjugateGradientsSolveSeveralRightHandSides()
    {
        Tensor a = KernelLike(120, 0.1, 1);
        Tensor b = randn(120, 4, dtype: ScalarType.Float64);
        b[.., 2] = 0; // a zero column is solved by zero at once
        var result = ConjugateGradients.Solve(new DenseOperator(a), b, null, new SolverSettings(Tolerance: 1e-10, MaxIterations: 500));
        Assert.True(result.Converged, $"worst residual {result.WorstResidual:E2} after {result.Iterations} iterations");
        Tolerances.AssertClose(result.Solution, linalg.solve(a, b), 1e-8, "CG solution");
        Assert.Equal(0.0, result.Solution[.., 2].abs().sum().item<double>());
        Assert.All(result.RelativeResiduals, r => Assert.True(r <= 1e-10));
    }

    [Fact]
    public void APivotedCholeskyPreconditionerCutsTheIterations()
    {
        const double noise = 1e-3;
        Tensor a = KernelLike(200, noise, 2);
        var op = new DenseOperator(a - noise * eye(200, dtype: ScalarType.Float64)).WithAddedDiagonal(noise);
        Tensor b = randn(200, 2, dtype: ScalarType.Float64);
        var settings = new SolverSettings(Tolerance: 1e-8, MaxIterations: 2000);
        var plain = ConjugateGradients.Solve(op, b, null, settings);
        Tensor factor = PivotedCholesky.Factor(new DenseOperator(a - noise * eye(200, dtype: ScalarType.Float64)), maxRank: 30);
        var preconditioned = ConjugateGradients.Solve(op, b, new LowRankPlusNoisePreconditioner(factor, noise), settings);
        Assert.True(plain.Converged && preconditioned.Converged);
        Assert.True(preconditioned.Iterations * 3 <= plain.Iterations,
                    $"preconditioned {preconditioned.Iterations} iterations against {plain.Iterations} without");
        Tolerances.AssertClose(preconditioned.Solution, linalg.solve(a, b), 1e-6, "preconditioned CG solution");
    }

    [Fact]
    public void PivotedCholeskyOfBlocksMatchesTheOneBlockFactorAndStopsAtEachBlocksRank()
    {
        manual_seed(5);
        Tensor Gram(long rank) { Tensor f = randn(12, rank, dtype: ScalarType.Float64); return f.matmul(f.t()); }
        Tensor blocks = stack(new[] { KernelLike(12, 0.1, 6), Gram(2), Gram(5) });
        Tensor full = PivotedCholesky.FactorBlocks(blocks, rank: 12);
        Tolerances.AssertClose(full.matmul(full.transpose(1, 2)), blocks, Tolerances.Float64, "G Gᵀ at full rank");
        Assert.Equal(0.0, full[1, .., 2..].abs().max().item<double>());             // a rank-2 block: no columns of rounding noise
        Assert.Equal(0.0, full[2, .., 5..].abs().max().item<double>());
        Tensor partial = PivotedCholesky.FactorBlocks(blocks, rank: 4);
        foreach (var (c, rank) in new[] { (0, 4), (1, 2), (2, 4) })
        {
            Tensor expected = PivotedCholesky.Factor(new DenseOperator(blocks[c]), maxRank: rank);
            Tolerances.AssertClose(partial[c, .., ..rank], expected, Tolerances.Float64, $"block {c} against the one-block factor");
        }
    }

    [Fact]
    public void ASolveStoppedAtItsCapSaysSo()
    {
        Tensor a = KernelLike(150, 1e-4, 3);
        var result = ConjugateGradients.Solve(new DenseOperator(a), randn(150, 1, dtype: ScalarType.Float64), null,
                                              new SolverSettings(Tolerance: 1e-12, MaxIterations: 5));
        Assert.False(result.Converged);
        Assert.Equal(5, result.Iterations);
        Assert.True(result.WorstResidual > 1e-12);
    }

    [Fact]
    public void CancellationIsHonouredBetweenIterations()
    {
        using var source = new CancellationTokenSource();
        source.Cancel();
        Assert.Throws<OperationCanceledException>(() => ConjugateGradients.Solve(new DenseOperator(KernelLike(50, 0.1, 4)),
            ones(50, 1, dtype: ScalarType.Float64), null, new SolverSettings(Cancellation: source.Token)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SolverSettings(Tolerance: 0).Validate());
    }

    [Fact]
    public void PivotedCholeskyIsExactAtFullRankAndItsPreconditionerIsTheWoodburyInverse()
    {
        manual_seed(5);
        Tensor l = randn(30, 6, dtype: ScalarType.Float64);
        Tensor psd = l.matmul(l.t());
        Tensor factor = PivotedCholesky.Factor(new DenseOperator(psd), maxRank: 30);
        Assert.Equal(6, factor.shape[1]); // stops once the remaining trace vanishes
        Tolerances.AssertClose(factor.matmul(factor.t()), psd, 1e-10, "pivoted Cholesky of a rank-6 matrix");

        Tensor partial = PivotedCholesky.Factor(new DenseOperator(psd), maxRank: 3);
        var preconditioner = new LowRankPlusNoisePreconditioner(partial, 0.5);
        Tensor m = partial.matmul(partial.t()) + 0.5 * eye(30, dtype: ScalarType.Float64);
        Tensor r = randn(30, 3, dtype: ScalarType.Float64);
        Tolerances.AssertClose(preconditioner.Apply(r), linalg.solve(m, r), 1e-10, "Woodbury preconditioner");
    }

    [Fact]
    public void LanczosGivesAnOrthonormalBasisThatTridiagonalizes()
    {
        Tensor a = KernelLike(80, 0.2, 6);
        Tensor start = randn(80, 2, dtype: ScalarType.Float64);
        var result = Lanczos.Tridiagonalize(new DenseOperator(a), start, steps: 25);
        Assert.Equal(25, result.Steps);
        for (long j = 0; j < 2; j++)
        {
            Tensor q = result.Basis[.., j, ..];                              // [80, 25]
            Tolerances.AssertClose(q.t().matmul(q), eye(25, dtype: ScalarType.Float64), 1e-10, "QᵀQ");
            Tolerances.AssertClose(q.t().matmul(a).matmul(q), result.Tridiagonal(j), 1e-10, "QᵀAQ = T");
            double largest = linalg.eigvalsh(result.Tridiagonal(j)).max().item<double>();
            Assert.Equal(linalg.eigvalsh(a).max().item<double>(), largest, 1e-8); // extreme eigenvalues converge first
        }
    }

    [Fact]
    public void StochasticLanczosQuadratureEstimatesTheLogDeterminant()
    {
        Tensor a = KernelLike(200, 0.5, 7);
        double exact = linalg.slogdet(a).Item2.item<double>();
        manual_seed(8);
        Tensor probes = randint(0, 2, new long[] { 200, 64 }, dtype: ScalarType.Float64) * 2 - 1;  // Rademacher
        // A has 41 distinct eigenvalues (rank 40 plus the noise), so 45 Lanczos steps make the quadrature exact.
        double[] samples = Lanczos.LogDeterminantSamples(new DenseOperator(a), probes, steps: 45);

        // The quadrature itself: each sample equals zᵀ log(A) z computed densely.
        var (values, vectors) = linalg.eigh(a);
        Tensor logA = vectors.matmul(diag(values.log())).matmul(vectors.t());
        Tensor exactSamples = (probes * logA.matmul(probes)).sum(dim: 0);
        Tolerances.AssertClose(tensor(samples), exactSamples, 1e-8, "Lanczos quadrature of zᵀ log(A) z");

        // The probe average: within four standard errors of the exact log determinant.
        double mean = samples.Average();
        double standardError = Math.Sqrt(samples.Sum(v => (v - mean) * (v - mean)) / (samples.Length - 1) / samples.Length);
        Assert.True(Math.Abs(mean - exact) <= 4 * standardError, $"SLQ {mean:F2} ± {standardError:F2} against exact {exact:F2}");
    }

    [Fact]
    public void DenseCholeskyAddsJitterOnlyWhenNeededAndReportsIt()
    {
        Tensor spd = KernelLike(40, 0.1, 9);
        var exact = DenseCholesky.Factor(spd);
        Assert.Equal(0.0, exact.Jitter);
        Tensor b = randn(40, 2, dtype: ScalarType.Float64);
        Tolerances.AssertClose(exact.Solve(b), linalg.solve(spd, b), 1e-10, "Cholesky solve");
        Assert.Equal(linalg.slogdet(spd).Item2.item<double>(), exact.LogDeterminant(), 1e-9);

        manual_seed(10);
        Tensor l = randn(40, 5, dtype: ScalarType.Float64);
        Tensor singular = l.matmul(l.t());                                   // rank 5: needs jitter
        var jittered = DenseCholesky.Factor(singular);
        Assert.True(jittered.Jitter > 0);
        Tolerances.AssertClose(jittered.Lower.matmul(jittered.Lower.t()), singular + jittered.Jitter * eye(40, dtype: ScalarType.Float64),
                               1e-10, "L Lᵀ = A + jitter I");

        Assert.Contains("not positive definite", Assert.Throws<InvalidOperationException>(() => DenseCholesky.Factor(-spd)).Message);
        Tensor bad = spd.clone();
        bad[3, 3] = double.NaN;
        Assert.Throws<ArgumentException>(() => DenseCholesky.Factor(bad));
    }
}
