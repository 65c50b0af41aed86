using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The cut projection F = U_rᵀ W against W itself on synthetic projections (m = 300 rows, P = 400) whose explained-variance
/// spectrum s² W Wᵀ decays geometrically from μ_1: variances from F are never below the exact ones and above them by at most
/// the stated fraction of the exact variance; where μ_1 is near 1 (little noise) nothing is cut.
/// </summary>
public class SpectralTruncationTests
{
    private const double PriorVariance = 0.5;

    [Theory]
    [InlineData(0.7)]
    [InlineData(0.99)]
    public void VariancesFromTheCutProjectionStayWithinTheToleranceOfTheExactOnes(double top)
    {
        Tensor w = Projection(top, decay: 0.93), test = randn(new long[] { 50, 400 }, dtype: ScalarType.Float64, generator: new Generator(7));
        var (factor, bound) = SpectralTruncation.Apply(w, PriorVariance, InferenceSettings.PredictionVarianceTolerance);
        Assert.InRange(factor.shape[0], 1, 200);                                            // fewer rows than W's 300
        Assert.InRange(bound, 0, InferenceSettings.PredictionVarianceTolerance);
        Tensor exact = Variances(w, test), cut = Variances(factor, test);
        Tensor relative = (cut - exact) / exact;
        Assert.True(relative.min().item<double>() >= -Tolerances.Float64, $"below the exact variance by {relative.min().item<double>():E2}");
        Assert.True(relative.max().item<double>() <= bound + Tolerances.Float64, $"above by {relative.max().item<double>():E2}, bound {bound:E2}");
    }

    [Fact]
    public void WhenTheDataExplainNearlyAllPriorVarianceNothingIsCut()
    {
        Tensor w = Projection(1 - 1e-9, decay: 0.999);
        var (factor, bound) = SpectralTruncation.Apply(w, PriorVariance, InferenceSettings.PredictionVarianceTolerance);
        Assert.Same(w, factor);
        Assert.Equal(0, bound);
    }

    /// <summary>
    /// A regression posterior of a small CNN (40 inputs of 3 outputs, s² = 1, σ² the kernel's largest eigenvalue, so that the data
    /// explain at most half of the prior variance along any direction) predicts through the cut projection, with variances within the tolerance of those of the uncut one.
    /// </summary>
    [Fact]
    public void APosteriorPredictsThroughTheCutProjectionWithinTheTolerance()
    {
        var cnn = Linearization.TestNetworks.Create("cnn-batchnorm");
        manual_seed(97);
        var network = new Microsoft.ML.Ntk.Linearization.LinearizedNetwork(cnn.Network, ParameterSelection.All);
        var training = network.Prepare(randn(40, 2, 8, 8, dtype: ScalarType.Float64));
        Tensor kernel = network.Kernel(training, training);
        double noise = linalg.eigvalsh(kernel).max().item<double>();                      // σ² = λ_max: μ_1 = 1/2
        var cholesky = Microsoft.ML.Ntk.LinearAlgebra.DenseCholesky.Factor(kernel.add(eye(kernel.shape[0], dtype: ScalarType.Float64).mul(noise)));
        var root = KernelInverseRoot.FromCholesky(cholesky.Lower);
        var cut = new KernelSpaceVariance(network, training, root, priorVariance: 1);
        var exact = new KernelSpaceVariance(network, training, root, priorVariance: 1, varianceTolerance: 0);
        using var test = new TestInputs(network, randn(5, 2, 8, 8, dtype: ScalarType.Float64));
        Tensor relative = (cut.Latent(test) - exact.Latent(test)) / exact.Latent(test);
        Assert.InRange(cut.ProjectionRows, 1, kernel.shape[0] - 1);
        Assert.Equal(kernel.shape[0], exact.ProjectionRows);
        Assert.InRange(relative.min().item<double>(), -Tolerances.Float64, InferenceSettings.PredictionVarianceTolerance);
        Assert.InRange(relative.max().item<double>(), -Tolerances.Float64, InferenceSettings.PredictionVarianceTolerance);
    }

    /// <summary>W [300, 400] = U diag(√(μ_i / s²)) Vᵀ with random orthonormal U, V and μ_i = top · decay^i.</summary>
    private static Tensor Projection(double top, double decay)
    {
        var generator = new Generator(3);
        Tensor u = linalg.qr(randn(new long[] { 300, 300 }, dtype: ScalarType.Float64, generator: generator)).Q;
        Tensor v = linalg.qr(randn(new long[] { 400, 300 }, dtype: ScalarType.Float64, generator: generator)).Q;
        double[] singular = Enumerable.Range(0, 300).Select(i => Math.Sqrt(top * Math.Pow(decay, i) / PriorVariance)).ToArray();
        return u.matmul(diag(tensor(singular, dtype: ScalarType.Float64))).matmul(v.t()).contiguous();
    }

    /// <summary>s² |J*|² − s⁴ |F J*ᵀ|² for each row of J*.</summary>
    private static Tensor Variances(Tensor factor, Tensor rows) =>
        rows.square().sum(dim: 1).mul(PriorVariance) - factor.matmul(rows.t()).square().sum(dim: 0).mul(PriorVariance * PriorVariance);
}
