using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>An explicit matrix.</summary>
internal sealed class DenseOperator(Tensor matrix) : LinearOperator
{
    public Tensor Matrix { get; } = matrix.dim() == 2 ? matrix : throw new ArgumentException("A dense operator needs a matrix.");
    public override long Rows => Matrix.shape[0];
    public override long Columns => Matrix.shape[1];
    public override ScalarType DType => Matrix.dtype;
    public override Device Device => Matrix.device;
    protected override Tensor MultiplyCore(Tensor x) => Matrix.matmul(x);
    protected override Tensor TransposedMultiplyCore(Tensor y) => Matrix.t().matmul(y);
    public override Tensor Diagonal()
    {
        RequireSquare("Diagonal");
        return Matrix.diagonal().clone();
    }
    public override Tensor ToDense() => Matrix.clone();
}
