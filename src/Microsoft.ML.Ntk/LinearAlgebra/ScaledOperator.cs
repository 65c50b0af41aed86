using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>c A.</summary>
internal sealed class ScaledOperator(LinearOperator inner, double factor) : LinearOperator
{
    public LinearOperator Inner { get; } = inner;
    public double Factor { get; } = factor;
    public override long Rows => Inner.Rows;
    public override long Columns => Inner.Columns;
    public override ScalarType DType => Inner.DType;
    public override Device Device => Inner.Device;
    protected override Tensor MultiplyCore(Tensor x) => Inner.Multiply(x).Times(Factor);
    protected override Tensor TransposedMultiplyCore(Tensor y) => Inner.TransposedMultiply(y).Times(Factor);
    public override Tensor Diagonal() => Inner.Diagonal().Times(Factor);
}
