using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference.ParameterSpaceReference;

/// <summary>
/// H = Jᵀ Λ J + I / s², the Hessian of the softmax MAP objective of the linearized network (exact: the model is linear
/// in Δθ, so the generalized Gauss–Newton matrix is the Hessian), with Λ_i = diag(p_i) − p_i p_iᵀ.
/// </summary>
internal sealed class SoftmaxHessianOperator(ParameterSpace space, Tensor probabilities, double priorVariance, Device device)
    : LinearOperator
{
    public override long Rows => space.Dimension;
    public override long Columns => Rows;
    public override ScalarType DType => ScalarType.Float64;
    public override Device Device => device;

    protected override Tensor MultiplyCore(Tensor x) =>
        space.GaussNewton(x.t().contiguous(), probabilities).t() + x / priorVariance;

    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);
}
