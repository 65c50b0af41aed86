using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>A + B for operators of the same size.</summary>
internal sealed class SumOperator : LinearOperator
{
    private readonly LinearOperator first, second;

    public SumOperator(LinearOperator first, LinearOperator second)
    {
        if (first.Rows != second.Rows || first.Columns != second.Columns)
            throw new ArgumentException($"Cannot add {first} and {second}: their sizes differ.");
        this.first = first;
        this.second = second;
    }

    public override long Rows => first.Rows;
    public override long Columns => first.Columns;
    public override ScalarType DType => first.DType;
    public override Device Device => first.Device;
    protected override Tensor MultiplyCore(Tensor x) => first.Multiply(x).Plus(second.Multiply(x).to(DType));
    protected override Tensor TransposedMultiplyCore(Tensor y) => first.TransposedMultiply(y).Plus(second.TransposedMultiply(y).to(DType));
    public override Tensor Diagonal() => first.Diagonal().Plus(second.Diagonal().to(DType));
}
