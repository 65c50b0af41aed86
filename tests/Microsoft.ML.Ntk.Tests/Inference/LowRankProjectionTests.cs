using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The low-rank projection F (Fᵀ F ≈ Wᵀ W, W = Rᵀ J(X)) against the exact projection, on a regression posterior of an MLP
/// with N·C = 80 training outputs: exact at full rank; capped by its budget, variances never below the exact ones and above
/// them by at most the bound it reports, times each output's prior variance; stopped by its bound before the budget when W
/// has low rank.
/// </summary>
public class LowRankProjectionTests
{
    private const double PriorVariance = 1.5, NoiseVariance = 0.01;

    [Fact]
    public void AtFullRankTheVariancesAreTheExactOnes()
    {
        var (network, training, root, test) = Posterior(distinctInputs: 40);
        var projection = LowRankProjection.Build(network, training, root, PriorVariance, budget: 1L << 30, seed: 0);
        Assert.Equal(80, projection.Rank);
        Assert.Equal(0, projection.ErrorBound);
        Tolerances.AssertClose(Variances(projection.Factor, test), Variances(Exact(network, training, root), test), Tolerances.Float64, "variances");
    }

    [Fact]
    public void CappedByItsBudgetTheVariancesExceedTheExactOnesByAtMostTheBound()
    {
        var (network, training, root, test) = Posterior(distinctInputs: 40);
        long budget = 32 * network.Parameters.Count * sizeof(double);
        var projection = LowRankProjection.Build(network, training, root, PriorVariance, budget, seed: 0);
        Assert.Equal(32, projection.Rank);
        Tensor exact = Variances(Exact(network, training, root), test), low = Variances(projection.Factor, test);
        Tensor prior = test.JacobianRows.Squared().sum(dim: 1).reshape(exact.shape).Times(PriorVariance);
        Tensor excess = low - exact;
        Assert.True(excess.min().item<double>() >= -1e-12 * prior.max().item<double>(), $"a variance below the exact one by {-excess.min().item<double>():E2}");
        Assert.True(excess.max().item<double>() > 1e-6 * prior.max().item<double>(), "rank 32 of 80 should leave some variance unexplained");
        double worst = (excess / prior).max().item<double>();
        Assert.True(worst <= projection.ErrorBound, $"excess {worst:E2} of the prior variance, bound {projection.ErrorBound:E2}");
    }

    [Fact]
    public void WhenWHasLowRankTheBoundStopsTheRankBeforeTheBudget()
    {
        var (network, training, root, test) = Posterior(distinctInputs: 5);              // 40 inputs, 5 distinct: W has rank 10
        var projection = LowRankProjection.Build(network, training, root, PriorVariance, budget: 1L << 30, seed: 0);
        Assert.True(projection.Rank < 80, $"rank {projection.Rank}");
        Assert.True(projection.ErrorBound <= InferenceSettings.LowRankVarianceError, $"bound {projection.ErrorBound:E2}");
        Tensor exact = Variances(Exact(network, training, root), test);
        Tensor prior = test.JacobianRows.Squared().sum(dim: 1).reshape(exact.shape).Times(PriorVariance);
        Assert.True(((Variances(projection.Factor, test) - exact).abs() / prior).max().item<double>() <= InferenceSettings.LowRankVarianceError);
    }

    /// <summary>
    /// A convolutional network (no structured kernel) whose projection W and layer parts both exceed the posterior's
    /// budget predicts through a low-rank projection: variances within its bound of the exact posterior's, never below.
    /// </summary>
    [Fact]
    public void APosteriorBeyondItsBudgetPredictsThroughTheLowRankProjection()
    {
        var cnn = TestNetworks.Create("cnn-batchnorm");
        manual_seed(96);
        var network = new LinearizedNetwork(cnn.Network, ParameterSelection.All);
        var training = network.Prepare(randn(40, 2, 8, 8, dtype: ScalarType.Float64));
        Tensor kernel = network.Kernel(training, training);
        var cholesky = DenseCholesky.Factor(kernel.Times(PriorVariance).Plus(eye(kernel.shape[0], dtype: ScalarType.Float64).Times(NoiseVariance)));
        var root = KernelInverseRoot.FromCholesky(cholesky.Lower);
        long budget = 48 * network.Parameters.Count * sizeof(double);                   // W has 40·C > 48 rows
        var small = new KernelSpaceVariance(network, training, root, PriorVariance, budget: budget);
        var exact = new KernelSpaceVariance(network, training, root, PriorVariance);
        Assert.True(exact.UsesProjection && !small.UsesProjection);
        using var test = new TestInputs(network, randn(5, 2, 8, 8, dtype: ScalarType.Float64));
        Tensor low = small.Latent(test), reference = exact.Latent(test);
        Assert.NotNull(small.LowRank);
        Assert.InRange(small.LowRank!.Rank, InferenceSettings.LowRankFirstBlock, 48);
        Tensor prior = test.JacobianRows.Squared().sum(dim: 1).reshape(reference.shape).Times(PriorVariance);
        Tensor excess = (low - reference) / prior;
        Assert.True(excess.min().item<double>() >= -1e-12 && excess.max().item<double>() <= small.LowRank.ErrorBound,
                    $"excess {excess.min().item<double>():E2} … {excess.max().item<double>():E2} of the prior variance, bound {small.LowRank.ErrorBound:E2}");
        Assert.True(small.Bytes <= exact.Bytes, $"{small.Bytes} bytes against {exact.Bytes} for W");
    }

    private static (LinearizedNetwork Network, PreparedInputs Training, KernelInverseRoot Root, TestInputs Test) Posterior(int distinctInputs)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(95);
        var module = Architectures.Mlp(3, new long[] { 20, 20 }, 2, () => nn.Tanh());
        module.to(ScalarType.Float64);
        module.eval();
        var network = new LinearizedNetwork(module, ParameterSelection.All);
        Tensor distinct = randn(distinctInputs, 3, dtype: ScalarType.Float64);
        Tensor x = distinct.index_select(0, arange(40) % distinctInputs);
        var training = network.Prepare(x);
        Tensor kernel = network.Kernel(training, training);
        var cholesky = DenseCholesky.Factor(kernel.Times(PriorVariance).Plus(eye(kernel.shape[0], dtype: ScalarType.Float64).Times(NoiseVariance)));
        var test = new TestInputs(network, randn(6, 3, dtype: ScalarType.Float64));
        return (network, training, KernelInverseRoot.FromCholesky(cholesky.Lower), test);
    }

    private static Tensor Exact(LinearizedNetwork network, PreparedInputs training, KernelInverseRoot root) => root.ApplyTransposed(network.Jacobian(training));

    /// <summary>s² |J(x*)_c|² − s⁴ |F J(x*)_cᵀ|², [B, C].</summary>
    private static Tensor Variances(Tensor factor, TestInputs test)
    {
        Tensor rows = test.JacobianRows;
        Tensor prior = rows.Squared().sum(dim: 1).reshape(test.Count, -1);
        return prior.Times(PriorVariance) - factor.matmul(rows.t()).Squared().sum(dim: 0).reshape(prior.shape).Times(PriorVariance * PriorVariance);
    }
}
