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
