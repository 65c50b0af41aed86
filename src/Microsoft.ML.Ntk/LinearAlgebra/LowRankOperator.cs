using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>L Lᵀ for a factor L of shape [n, r]: for example a pivoted Cholesky approximation.</summary>
internal sealed class LowRankOperator(Tensor factor) : LinearOperator
{
    public Tensor Factor { get; } = factor.dim() == 2 ? factor : throw new ArgumentException("A low-rank factor needs a matrix.");
    public override long Rows => Factor.shape[0];
    public override long Columns => Factor.shape[0];
    public override ScalarType DType => Factor.dtype;
    public override Device Device => Factor.device;
    protected override Tensor MultiplyCore(Tensor x) => Factor.matmul(Factor.t().matmul(x));
    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);
    public override Tensor Diagonal() => Factor.Squared().sum(1);
}
