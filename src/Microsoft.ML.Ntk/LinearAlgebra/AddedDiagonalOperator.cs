using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>A + diag(d) for a square A: for example a kernel plus the noise variance.</summary>
internal sealed class AddedDiagonalOperator : LinearOperator
{
    public AddedDiagonalOperator(LinearOperator inner, Tensor diagonal)
    {
        if (inner.Rows != inner.Columns) throw new ArgumentException($"A diagonal can only be added to a square operator; {inner} is not.");
        if (diagonal.dim() != 1 || diagonal.shape[0] != inner.Rows)
            throw new ArgumentException($"The added diagonal must have {inner.Rows} entries; got [{string.Join(", ", diagonal.shape)}].");
        Inner = inner;
        Added = diagonal.to(inner.DType);
    }

    public LinearOperator Inner { get; }
    public Tensor Added { get; }
    public override long Rows => Inner.Rows;
    public override long Columns => Inner.Columns;
    public override ScalarType DType => Inner.DType;
    public override Device Device => Inner.Device;
    protected override Tensor MultiplyCore(Tensor x) => Inner.Multiply(x).Plus(Added.unsqueeze(1) * x);
    protected override Tensor TransposedMultiplyCore(Tensor y) => Inner.TransposedMultiply(y).Plus(Added.unsqueeze(1) * y);
    public override Tensor Diagonal() => Inner.Diagonal().Plus(Added);
}
