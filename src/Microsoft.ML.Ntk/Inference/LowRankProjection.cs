using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A low-rank stand-in for the projected training Jacobian W = Rᵀ J(X) [m, P] when W itself would exceed the prediction
/// budget: the idea of LOVE (Pleiss et al., "Constant-time predictive distributions for Gaussian processes", 2018), here
/// applied to W. An orthonormal basis Q [m, k] of W's range is found from Gaussian tangents ω, block by block (the
/// randomized range finder of Halko, Martinsson and Tropp, 2011), and F = Qᵀ W [k, P] is kept, so that
/// v(x*) ≈ s² |J(x*)_c|² − s⁴ |F J(x*)_cᵀ|². Because Wᵀ W − Fᵀ F = Wᵀ (I − Q Qᵀ) W is positive semi-definite, these
/// variances are never smaller than the exact ones, and larger by at most s⁴ ‖(I − Q Qᵀ) W‖² |J(x*)_c|²: by at most
/// the fraction s² ‖(I − Q Qᵀ) W‖² of the prior variance s² |J(x*)_c|². That norm is bounded by the residuals of each
/// new block of r Gaussian tangents before the block joins Q: ‖(I − Q Qᵀ) W‖ ≤ 10 √(2/π) max_i |(I − Q Qᵀ) W ω_i| with
/// probability at least 1 − 10^−r (their eq. 4.3). The rank doubles, block by block, until that fraction is at most
/// <see cref="InferenceSettings.LowRankVarianceError"/> (<see cref="ErrorBound"/> is the fraction reached). When F
/// would leave the budget first, there is no projection: the bound could not be met. The first block also estimates the
/// trace of s² Wᵀ W (its eigenvalues lie in [0, 1]), which tells early when more eigenvalues than the budget's rows
/// exceed the error and the bound cannot be met. Each block costs one pass over the explicit training Jacobian, formed
/// a block of inputs at a time and never whole, and F one more.
/// Measured on a generic MLP (P = 134,281, N = 1,200, s² = 1, σ² = 0.01; W 1,240 MiB): the trace was near N, so no
/// low rank would do; with rank 999 (the budget) the variances were too large by up to 3.5e-3 of the prior variance, 18
/// times the posterior variance. It pays where W's spectrum decays: few effective directions in the training data.
/// </summary>
internal sealed class LowRankProjection
{
    private LowRankProjection(Tensor factor, double errorBound)
    {
        Factor = factor;
        ErrorBound = errorBound;
    }

    /// <summary>F = Qᵀ W, [k, P] in float64.</summary>
    public Tensor Factor { get; }

    /// <summary>The bound on the variance error as a fraction of the prior variance (see the class summary).</summary>
    public double ErrorBound { get; }

    public int Rank => (int)Factor.shape[0];

    /// <summary>The most rows F may have within <paramref name="budget"/> bytes for P parameters.</summary>
    public static long MaxRank(long parameters, long budget) => budget / (parameters * sizeof(double));

    /// <summary>
    /// F for the training inputs and the root R of their inverse system, within <paramref name="budget"/> bytes; null
    /// when the bound cannot be met within it.
    /// </summary>
    public static LowRankProjection? Build(LinearizedNetwork network, PreparedInputs training, KernelInverseRoot root, double priorVariance,
                                          long budget, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long p = network.Parameters.Count, m = root.LowerCholesky.shape[0];
        long maxRank = Math.Min(MaxRank(p, budget), m);
        var generator = new Generator((ulong)seed + 1);
        Tensor q = zeros(m, 0, dtype: ScalarType.Float64);
        double bound = double.PositiveInfinity;
        for (long block = InferenceSettings.LowRankFirstBlock; q.shape[1] < maxRank; block *= 2)
        {
            long width = Math.Min(block, maxRank - q.shape[1]);
            Tensor tangents = randn(new[] { p, width }, generator: generator, dtype: ScalarType.Float64);
            Tensor probes = root.ApplyTransposed(Stream(network, training, root.Rows, rows => rows.matmul(tangents.to(rows.dtype)).to(ScalarType.Float64)));  // W ω: [m, width]
            for (int pass = 0; pass < 2; pass++) probes = probes - q.matmul(q.t().matmul(probes));    // twice, for orthogonality in float64
            Tensor norms = ScalarSafe.ColumnNorms(probes);
            if (q.shape[1] == 0 && NeededRank(priorVariance * norms.Squared().mean().item<double>(), m) > maxRank) return null;
            bound = priorVariance * Math.Pow(10 * Math.Sqrt(2 / Math.PI) * norms.max().item<double>(), 2);
            if (bound <= InferenceSettings.LowRankVarianceError) break;
            q = cat(new[] { q, linalg.qr(probes).Q }, 1);
        }
        if (q.shape[1] == m) bound = 0;                                                       // Q spans every row: F Fᵀ = W Wᵀ exactly
        else if (bound > InferenceSettings.LowRankVarianceError) return null;                  // the budget ended first
        Tensor cotangents = root.Apply(q);                                                     // R Q: [N·C, k]
        Tensor factor = StreamSum(network, training, cotangents);                              // (R Q)ᵀ J(X): [k, P]
        factor.DetachFromDisposeScope();
        return new LowRankProjection(factor, bound);
    }

    /// <summary>
    /// The fewest eigenvalues of s² Wᵀ W above the error ε, from its trace t (m eigenvalues in [0, 1]): at least
    /// (t − m ε) / (1 − ε). The trace is estimated from the first block's Gaussian probes (mean |W ω|², relative spread
    /// √(2 / r) for r probes at worst), so only half of this count is required to fit before giving up.
    /// </summary>
    private static double NeededRank(double trace, long m)
    {
        double error = InferenceSettings.LowRankVarianceError;
        return 0.5 * (trace - m * error) / (1 - error);
    }

    /// <summary>f(J_b) for each block J_b of the training Jacobian's rows, concatenated by rows: [N·C, ·].</summary>
    private static Tensor Stream(LinearizedNetwork network, PreparedInputs training, long rootRows, Func<Tensor, Tensor> product) =>
        cat(network.JacobianBlocks(training, BlockInputs(network, training, rootRows)).Select(b =>
        {
            using var scope = NewDisposeScope();
            Tensor result = scope.MoveToOuter(product(b.Rows));
            b.Rows.Dispose();
            return result;
        }).ToArray(), 0);

    /// <summary>Σ_b (U_b)ᵀ J_b over the blocks of the training Jacobian, for U [N·C, k]: Uᵀ J(X), [k, P], in float64.</summary>
    private static Tensor StreamSum(LinearizedNetwork network, PreparedInputs training, Tensor u)
    {
        long rootRows = u.shape[0], c = rootRows / training.Count;
        Tensor sum = zeros(u.shape[1], network.Parameters.Count, dtype: ScalarType.Float64);
        foreach (var (start, rows) in network.JacobianBlocks(training, BlockInputs(network, training, rootRows)))
        {
            using var scope = NewDisposeScope();
            sum.Accumulate(u.narrow(0, start * c, rows.shape[0]).t().matmul(rows.to(ScalarType.Float64)));
            rows.Dispose();
        }
        return sum;
    }

    /// <summary>Inputs per block of the training Jacobian: its rows take at most <see cref="LinearizationSettings.FactoredChunkBytes"/>.</summary>
    private static int BlockInputs(LinearizedNetwork network, PreparedInputs training, long rootRows)
    {
        long outputs = Math.Max(1, rootRows / training.Count);
        long perInput = outputs * network.Parameters.Count * sizeof(double);
        return (int)Math.Clamp(LinearizationSettings.FactoredChunkBytes / perInput, 1, training.Count);
    }
}
