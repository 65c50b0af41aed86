using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

internal static class Traces
{
    /// <summary>tr(A) by Hutchinson's estimator with a few Rademacher probes: a scale for starting values, not more.</summary>
    public static double Hutchinson(LinearOperator a, int probes, int seed)
    {
        using var scope = NewDisposeScope();
        Tensor z = randint(0, 2, new long[] { a.Rows, probes }, generator: new Generator((ulong)seed + 1), dtype: ScalarType.Float64).Times(2).PlusConstant(-1);
        return (z * a.Multiply(z).to(ScalarType.Float64)).sum().item<double>() / probes;
    }
}
