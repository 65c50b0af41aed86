using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.LinearAlgebra;

/// <summary>
/// What every operator must satisfy, against the dense matrix it stands for. Each operator's tests derive from this
/// class and say how to build the operator and its dense equivalent.
/// </summary>
public abstract class LinearOperatorConformance
{
    protected LinearOperatorConformance() => TorchSharpLoader.EnsureLoaded();

    /// <summary>The operator under test and the float64 matrix it must equal.</summary>
    internal abstract (LinearOperator Operator, Tensor Dense) Create();

    [Fact]
    public void SizeAndDenseFormMatch()
    {
        var (op, dense) = Create();
        Assert.Equal(dense.shape[0], op.Rows);
        Assert.Equal(dense.shape[1], op.Columns);
        Tolerances.AssertClose(op.ToDense(), dense, Tolerances.Float64, $"{op} dense form");
    }

    [Fact]
    public void MultiplyMatchesTheDenseMatrix()
    {
        var (op, dense) = Create();
        manual_seed(11);
        foreach (long k in new long[] { 1, 3 })
        {
            Tensor x = randn(op.Columns, k, dtype: ScalarType.Float64);
            Tolerances.AssertClose(op.Multiply(x), dense.matmul(x), Tolerances.Float64, $"{op} A·X (k = {k})");
        }
    }

    [Fact]
    public void TransposedMultiplyMatchesTheDenseMatrix()
    {
        var (op, dense) = Create();
        manual_seed(12);
        Tensor y = randn(op.Rows, 2, dtype: ScalarType.Float64);
        Tolerances.AssertClose(op.TransposedMultiply(y), dense.t().matmul(y), Tolerances.Float64, $"{op} Aᵀ·Y");
    }

    [Fact]
    public void DiagonalMatchesTheDenseMatrix()
    {
        var (op, dense) = Create();
        if (op.Rows != op.Columns)
        {
            Assert.Throws<InvalidOperationException>(() => op.Diagonal());
            return;
        }
        Tolerances.AssertClose(op.Diagonal(), dense.diagonal(), Tolerances.Float64, $"{op} diagonal");
    }

    [Fact]
    public void CompositionsMatchTheirDenseForms()
    {
        var (op, dense) = Create();
        manual_seed(13);
        Tolerances.AssertClose(op.Scaled(-2.5).ToDense(), -2.5 * dense, Tolerances.Float64, $"{op} scaled");
        Tolerances.AssertClose(op.Plus(op).ToDense(), 2 * dense, Tolerances.Float64, $"{op} plus itself");
        if (op.Rows == op.Columns)
        {
            Tensor d = rand(op.Rows, dtype: ScalarType.Float64);
            Tolerances.AssertClose(op.WithAddedDiagonal(d).ToDense(), dense + diag(d), Tolerances.Float64, $"{op} with added diagonal");
            Tolerances.AssertClose(op.WithAddedDiagonal(0.7).Diagonal(), dense.diagonal() + 0.7, Tolerances.Float64, $"{op} + 0.7 I diagonal");
        }
    }

    [Fact]
    public void BlocksOfTheWrongShapeAreRefused()
    {
        var (op, _) = Create();
        var error = Assert.Throws<ArgumentException>(() => op.Multiply(zeros(op.Columns + 1, 2, dtype: ScalarType.Float64)));
        Assert.Contains($"[{op.Columns}, k]", error.Message);
        Assert.Throws<ArgumentException>(() => op.TransposedMultiply(zeros(op.Rows, dtype: ScalarType.Float64)));
    }
}

public class DenseOperatorTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(1);
        Tensor m = randn(7, 5, dtype: ScalarType.Float64);
        return (new DenseOperator(m), m);
    }
}

public class SquareDenseOperatorTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(2);
        Tensor m = randn(300, 300, dtype: ScalarType.Float64); // more than one block of unit vectors
        return (new DenseOperator(m), m);
    }
}

public class DiagonalOperatorTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(3);
        Tensor d = randn(6, dtype: ScalarType.Float64);
        return (new DiagonalOperator(d), diag(d));
    }
}

public class LowRankOperatorTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(4);
        Tensor l = randn(8, 3, dtype: ScalarType.Float64);
        return (new LowRankOperator(l), l.matmul(l.t()));
    }
}

public class ComposedOperatorTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(5);
        Tensor m = randn(6, 6, dtype: ScalarType.Float64), l = randn(6, 2, dtype: ScalarType.Float64), d = rand(6, dtype: ScalarType.Float64);
        var op = new DenseOperator(m).Scaled(0.5).Plus(new LowRankOperator(l)).WithAddedDiagonal(d);
        return (op, 0.5 * m + l.matmul(l.t()) + diag(d));
    }
}

/// <summary>An operator known only by its products (no overrides of Diagonal or ToDense): the base class's defaults.</summary>
public class ProductOnlyOperatorTests : LinearOperatorConformance
{
    private sealed class ProductsOnly(Tensor matrix) : LinearOperator
    {
        public override long Rows => matrix.shape[0];
        public override long Columns => matrix.shape[1];
        public override ScalarType DType => matrix.dtype;
        public override Device Device => matrix.device;
        protected override Tensor MultiplyCore(Tensor x) => matrix.matmul(x);
        protected override Tensor TransposedMultiplyCore(Tensor y) => matrix.t().matmul(y);
    }

    internal override (LinearOperator, Tensor) Create()
    {
        manual_seed(6);
        Tensor m = randn(260, 260, dtype: ScalarType.Float64);
        return (new ProductsOnly(m), m);
    }
}
