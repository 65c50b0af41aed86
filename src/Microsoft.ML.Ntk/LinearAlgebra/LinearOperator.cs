using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// A linear operator A ∈ R^{Rows×Columns}, known only by its size and its products with blocks of vectors
/// (vectors are columns: X is [Columns, k]). Everything else (sums, scalings, added diagonals, solves) is built on
/// this contract. Products accept any floating dtype and answer in <see cref="DType"/>.
/// </summary>
internal abstract class LinearOperator
{
    public abstract long Rows { get; }
    public abstract long Columns { get; }
    public abstract ScalarType DType { get; }
    public abstract Device Device { get; }

    /// <summary>A X for X of shape [Columns, k]; returns [Rows, k].</summary>
    public Tensor Multiply(Tensor x)
    {
        CheckBlock(x, Columns, "Multiply");
        return MultiplyCore(x.to(DType));
    }

    /// <summary>Aᵀ Y for Y of shape [Rows, k]; returns [Columns, k].</summary>
    public Tensor TransposedMultiply(Tensor y)
    {
        CheckBlock(y, Rows, "TransposedMultiply");
        return TransposedMultiplyCore(y.to(DType));
    }

    protected abstract Tensor MultiplyCore(Tensor x);
    protected abstract Tensor TransposedMultiplyCore(Tensor y);

    /// <summary>The diagonal of a square operator, [Rows]. The default multiplies by blocks of unit vectors.</summary>
    public virtual Tensor Diagonal()
    {
        RequireSquare("Diagonal");
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < Rows; start += DenseBlock)
        {
            long length = Math.Min(DenseBlock, Rows - start);
            Tensor block = Multiply(UnitVectors(start, length));
            parts.Add(block.narrow(0, start, length).diagonal());
        }
        return scope.MoveToOuter(cat(parts.ToArray()));
    }

    /// <summary>The operator as an explicit [Rows, Columns] matrix, built by blocks of unit vectors.</summary>
    public virtual Tensor ToDense()
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < Columns; start += DenseBlock)
            parts.Add(Multiply(UnitVectors(start, Math.Min(DenseBlock, Columns - start))));
        return scope.MoveToOuter(cat(parts.ToArray(), 1));
    }

    public LinearOperator Scaled(double factor) => new ScaledOperator(this, factor);

    public LinearOperator Plus(LinearOperator other) => new SumOperator(this, other);

    /// <summary>A + diag(d) for a square operator and a diagonal [Rows].</summary>
    public LinearOperator WithAddedDiagonal(Tensor diagonal) => new AddedDiagonalOperator(this, diagonal);

    /// <summary>A + c I for a square operator.</summary>
    public LinearOperator WithAddedDiagonal(double value) =>
        new AddedDiagonalOperator(this, ones(Rows, dtype: DType, device: Device).Times(value));

    public override string ToString() => $"{GetType().Name} [{Rows}×{Columns}]";

    protected const long DenseBlock = 256;

    protected void RequireSquare(string what)
    {
        if (Rows != Columns) throw new InvalidOperationException($"{what} needs a square operator; {this} is not.");
    }

    private Tensor UnitVectors(long start, long length) =>
        eye(Columns, dtype: DType, device: Device).narrow(1, start, length);

    private void CheckBlock(Tensor block, long rows, string what)
    {
        if (block.dim() != 2 || block.shape[0] != rows)
            throw new ArgumentException($"{what} of {this} needs a block of shape [{rows}, k]; got [{string.Join(", ", block.shape)}].");
    }
}
