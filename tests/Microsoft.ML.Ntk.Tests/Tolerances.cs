namespace Microsoft.ML.Ntk.Tests;

/// <summary>
/// Every numerical tolerance of the tests, in one place. Errors are relative to the largest magnitude of the
/// reference: max|actual − expected| / max|expected|.
/// </summary>
internal static class Tolerances
{
    /// <summary>
    /// float64 products against an explicit float64 Jacobian. Both sides sum the same few hundred terms in
    /// different orders; each rounding is ~1e-16, so a few thousand roundings stay far below 1e-10.
    /// </summary>
    public const double Float64 = 1e-10;

    /// <summary>
    /// float32 products against the float64 reference: float32 carries ~6e-8 relative precision per operation;
    /// depth and sums of ~1e3 terms lose up to two digits, which 1e-5 allows.
    /// </summary>
    public const double Float32 = 1e-5;

    /// <summary>
    /// Central finite differences with step 1e-5 in float64: truncation error ~h²·f''' ≈ 1e-10 and cancellation
    /// error ~1e-16/h ≈ 1e-11 for outputs of order one; 1e-7 leaves room for larger third derivatives.
    /// </summary>
    public const double FiniteDifference = 1e-7;

    /// <summary>The step of the central finite differences.</summary>
    public const double FiniteDifferenceStep = 1e-5;

    public static double RelativeError(TorchSharp.torch.Tensor actual, TorchSharp.torch.Tensor expected)
    {
        var a = actual.to(TorchSharp.torch.ScalarType.Float64);
        var e = expected.to(TorchSharp.torch.ScalarType.Float64);
        if (!a.shape.SequenceEqual(e.shape))
            throw new Xunit.Sdk.XunitException($"Shapes differ: [{string.Join(", ", a.shape)}] vs [{string.Join(", ", e.shape)}].");
        double scale = e.abs().max().item<double>();
        return (a - e).abs().max().item<double>() / Math.Max(scale, 1e-300);
    }

    public static void AssertClose(TorchSharp.torch.Tensor actual, TorchSharp.torch.Tensor expected, double tolerance, string what)
    {
        double error = RelativeError(actual, expected);
        Assert.True(error <= tolerance, $"{what}: relative error {error:E2} exceeds {tolerance:E0}.");
    }
}
