using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// K0 = J Jᵀ over the N·C training outputs as a matrix-free operator: each product is one kernel product of the
/// linearized network (a Jᵀ·U then a J·V, batched over the data), several columns at once.
/// </summary>
internal sealed class KernelOperator(LinearizedNetwork network, PreparedInputs inputs, long outputs, bool independentOutputs = false)
    : LinearOperator
{
    public override long Rows => inputs.Count * outputs;
    public override long Columns => Rows;
    public override ScalarType DType => network.Parameters.DType;
    public override Device Device => network.Parameters.Device;

    protected override Tensor MultiplyCore(Tensor x)
    {
        long k = x.shape[1];
        Tensor v = x.t().reshape(k, inputs.Count, outputs);
        if (!independentOutputs) return network.KernelProduct(inputs, inputs, v).reshape(k, -1).t();
        // one product per output: column c of each block keeps only its own output's entries and results
        Tensor mask = eye(outputs, dtype: v.dtype, device: v.device).reshape(1, outputs, 1, outputs);
        Tensor split = (v.unsqueeze(1) * mask).reshape(k * outputs, inputs.Count, outputs);
        Tensor products = network.KernelProduct(inputs, inputs, split).reshape(k, outputs, inputs.Count, outputs);
        return (products * mask).sum(dim: 1).reshape(k, -1).t();
    }

    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);

    public override Tensor Diagonal() => network.KernelDiagonal(inputs).reshape(-1).to(DType);
}
