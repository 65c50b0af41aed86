using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// A partial pivoted Cholesky factor L [n, r] with L Lᵀ ≈ A for a symmetric positive semi-definite operator: each
/// step takes the largest remaining diagonal entry as pivot and costs one product of A with a unit vector. It stops
/// at the rank cap or when the remaining trace is below the relative tolerance of the initial trace.
/// </summary>
internal static class PivotedCholesky
{
    public static Tensor Factor(LinearOperator a, int maxRank, double relativeTolerance = 1e-6, Tensor? diagonal = null)
    {
        if (a.Rows != a.Columns) throw new ArgumentException($"Pivoted Cholesky needs a square operator; {a} is not.");
        if (maxRank < 0) throw new ArgumentOutOfRangeException(nameof(maxRank), maxRank, "The rank must not be negative.");
        using var scope = NewDisposeScope();
        long n = a.Rows;
        Tensor remaining = (diagonal ?? a.Diagonal()).to(ScalarType.Float64).clone();
        double initialTrace = remaining.sum().item<double>();
        var columns = new List<Tensor>();
        for (int m = 0; m < Math.Min(maxRank, n); m++)
        {
            long pivot = remaining.argmax().item<long>();
            double pivotValue = remaining[pivot].item<double>();
            if (pivotValue <= 0 || remaining.AtLeast(0).sum().item<double>() <= relativeTolerance * initialTrace) break;
            Tensor unit = zeros(n, 1, dtype: a.DType, device: a.Device);
            unit[pivot, 0] = 1;
            Tensor column = a.Multiply(unit).to(ScalarType.Float64).squeeze(1);
            foreach (var previous in columns) column = column - previous * previous[pivot];
            Tensor l = column.Over(Math.Sqrt(pivotValue));
            columns.Add(l);
            remaining = remaining - l.Squared();
            remaining[pivot] = 0;
        }
        return scope.MoveToOuter(columns.Count == 0 ? zeros(n, 0, dtype: ScalarType.Float64, device: a.Device) : stack(columns.ToArray(), 1));
    }
}
