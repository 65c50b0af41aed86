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
/// with N·C = 80 training outputs: exact at full rank; none when the budget ends before the bound is met; stopped by its
/// bound before the budget when W has low rank, with variances within the bound (times each output's prior variance).
/// </summary>
public class LowRankProjectionTests
{
    private const double PriorVariance = 1.5, NoiseVariance = 0.01;

    /// <summary>float64 rounding of variances computed two ways, relative to the prior variance (see <see cref="Tolerances.Float64"/>).</summary>
    private const double Rounding = Tolerances.Float64;

    [Fact]
    public void AtFullRankTheVariancesAreTheExactOnes()
    {
        var (network, training, root, test) = Posterior(distinctInputs: 40);
        var projection = LowRankProjection.Build(network, training, root, PriorVariance, budget: 1L << 30, seed: 0)!;
        Assert.Equal(80, projection.Rank);
        Assert.Equal(0, projection.ErrorBound);
        Tolerances.AssertClose(Variances(projection.Factor, test), Variances(Exact(network, training, root), test), Tolerances.Float64, "variances");
    }

    [Fact]
    public void WhenTheBudgetEndsBeforeTheBoundIsMetThereIsNoProjection()
    {
        var (network, training, root, _) = Posterior(distinctInputs: 40);                // 80 distinct outputs, σ²/s² small: a flat spectrum
        long budget = 32 * network.Parameters.Count * sizeof(double);
        Assert.Null(LowRankProjection.Build(network, training, root, PriorVariance, budget, seed: 0));
    }

    [Fact]
    public void WhenWHasLowRankTheBoundStopsTheRankBeforeTheBudget()
    {
        var (network, training, root, test) = Posterior(distinctInputs: 5);              // 40 inputs, 5 distinct: W has rank 10
        var projection = LowRankProjection.Build(network, training, root, PriorVariance, budget: 1L << 30, seed: 0)!;
        Assert.True(projection.Rank < 80, $"rank {projection.Rank}");
        Assert.True(projection.ErrorBound <= InferenceSettings.LowRankVarianceError, $"bound {projection.ErrorBound:E2}");
        Tensor exact = Variances(Exact(network, training, root), test);
        Tensor prior = test.JacobianRows.Squared().sum(dim: 1).reshape(exact.shape).Times(PriorVariance);
        Assert.True(((Variances(projection.Factor, test) - exact) / prior).min().item<double>() >= -Rounding);
        Assert.True(((Variances(projection.Factor, test) - exact) / prior).max().item<double>() <= projection.ErrorBound + Rounding);
    }

    /// <summary>
    /// A convolutional network (no structured kernel) whose projection W and layer parts both exceed the posterior's
    /// budget: with training images of few distinct kinds (W of low rank) it predicts through a low-rank projection, within
    /// its bound of the exact variances and never below them; with 40 distinct images the bound cannot be met within the
    /// budget, and it predicts the exact variances from the cross kernel.
    /// </summary>
    [Theory]
    [InlineData(4)]
    [InlineData(40)]
    public void APosteriorBeyondItsBudgetUsesTheLowRankProjectionOnlyWhereItMeetsItsBound(int distinctInputs)
    {
        var cnn = TestNetworks.Create("cnn-batchnorm");
        manual_seed(96);
        var network = new LinearizedNetwork(cnn.Network, ParameterSelection.All);
        Tensor distinct = randn(distinctInputs, 2, 8, 8, dtype: ScalarType.Float64);
        var training = network.Prepare(distinct.index_select(0, arange(40) % distinctInputs));
        Tensor kernel = network.Kernel(training, training);
        var cholesky = DenseCholesky.Factor(kernel.Times(PriorVariance).Plus(eye(kernel.shape[0], dtype: ScalarType.Float64).Times(NoiseVariance)));
        var root = KernelInverseRoot.FromCholesky(cholesky.Lower);
        long budget = 48 * network.Parameters.Count * sizeof(double);                   // W has 40·C > 48 rows
        var small = new KernelSpaceVariance(network, training, root, PriorVariance, budget: budget);
        var exact = new KernelSpaceVariance(network, training, root, PriorVariance, varianceTolerance: 0);
        Assert.True(exact.UsesProjection && !small.UsesProjection);
        using var test = new TestInputs(network, randn(5, 2, 8, 8, dtype: ScalarType.Float64));
        Tensor low = small.Latent(test), reference = exact.Latent(test);
        if (distinctInputs == 40)
        {
            Assert.Null(small.LowRank);
            Tolerances.AssertClose(low, reference, Tolerances.Float64, "variances from the cross kernel");
            return;
        }
        Assert.NotNull(small.LowRank);
        Assert.InRange(small.LowRank!.Rank, InferenceSettings.LowRankFirstBlock, 48);
        Tensor prior = test.JacobianRows.Squared().sum(dim: 1).reshape(reference.shape).Times(PriorVariance);
        Tensor excess = (low - reference) / prior;
        Assert.True(excess.min().item<double>() >= -Rounding && excess.max().item<double>() <= small.LowRank.ErrorBound + Rounding,
                    $"excess {excess.min().item<double>():E2} … {excess.max().item<double>():E2} of the prior variance, bound {small.LowRank.ErrorBound:E2}");
        Assert.True(small.LowRank.ErrorBound <= InferenceSettings.LowRankVarianceError);
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
