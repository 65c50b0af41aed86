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
    /// <summary>
    /// Partial pivoted Cholesky factors G_c [C, N, r] of explicit symmetric positive semi-definite blocks K_c [C, N, N], all
    /// blocks at once: each step reads the pivot's column of every block (no product) and costs C·N·r. A block whose largest
    /// remaining diagonal entry falls to <see cref="LinearAlgebraSettings.PivotFloor"/> of its largest diagonal entry (its
    /// rank is below r) gets zero columns from then on.
    /// </summary>
    public static Tensor FactorBlocks(Tensor blocks, int rank)
    {
        if (blocks.dim() != 3 || blocks.shape[1] != blocks.shape[2])
            throw new ArgumentException($"Expected square blocks [C, N, N]; got [{string.Join(", ", blocks.shape)}].");
        using var scope = NewDisposeScope();
        long c = blocks.shape[0], n = blocks.shape[1];
        int r = (int)Math.Min(rank, n);
        Tensor k = blocks.to(ScalarType.Float64);
        Tensor remaining = k.diagonal(0, 1, 2).clone();                                         // [C, N]
        Tensor floor = remaining.amax(1).Times(LinearAlgebraSettings.PivotFloor);               // [C]
        Tensor factor = zeros(c, n, r, dtype: ScalarType.Float64, device: k.device);
        for (int m = 0; m < r; m++)
        {
            using var step = NewDisposeScope();
            Tensor pivot = remaining.argmax(1).unsqueeze(1);                                   // [C, 1]
            Tensor value = remaining.gather(1, pivot).squeeze(1);                              // [C]
            Tensor column = k.gather(2, pivot.unsqueeze(2).expand(c, n, 1)).squeeze(2);        // K_c[:, pivot_c]: [C, N]
            Tensor pivotRow = factor.gather(1, pivot.unsqueeze(2).expand(c, 1, r));            // G_c[pivot_c, :]: [C, 1, r]
            column = column - factor.matmul(pivotRow.transpose(1, 2)).squeeze(2);
            Tensor usable = value.gt(floor).logical_and(value.Above(0));
            Tensor l = where(usable.unsqueeze(1), column / value.AtLeast(double.Epsilon).sqrt().unsqueeze(1), zeros_like(column));
            factor.select(2, m).copy_(l);
            remaining.sub_(l * l);
            remaining.scatter_(1, pivot, zeros_like(value).unsqueeze(1));
        }
        return scope.MoveToOuter(factor);
    }
}
