using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>diag(d).</summary>
internal sealed class DiagonalOperator(Tensor diagonal) : LinearOperator
{
    public Tensor Values { get; } = diagonal.dim() == 1 ? diagonal : throw new ArgumentException("A diagonal needs a vector.");
    public override long Rows => Values.shape[0];
    public override long Columns => Values.shape[0];
    public override ScalarType DType => Values.dtype;
    public override Device Device => Values.device;
    protected override Tensor MultiplyCore(Tensor x) => Values.unsqueeze(1) * x;
    protected override Tensor TransposedMultiplyCore(Tensor y) => Values.unsqueeze(1) * y;
    public override Tensor Diagonal() => Values.clone();
}
