using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// H = Jᵀ Λ J + I / s², the Hessian of the softmax MAP objective of the linearized network (exact: the model is linear
/// in Δθ, so the generalized Gauss–Newton matrix is the Hessian), with Λ_i = diag(p_i) − p_i p_iᵀ.
/// </summary>
internal sealed class SoftmaxHessianOperator(LinearizedNetwork network, PreparedInputs inputs, Tensor probabilities, double priorVariance)
    : LinearOperator
{
    private readonly OutputCurvature curvature = OutputCurvature.Softmax(probabilities);

    public override long Rows => network.Parameters.Count;
    public override long Columns => Rows;
    public override ScalarType DType => ScalarType.Float64;
    public override Device Device => network.Parameters.Device;

    protected override Tensor MultiplyCore(Tensor x)
    {
        Tensor tangents = x.t().contiguous().to(network.Parameters.DType);
        return network.GaussNewtonProduct(inputs, tangents, curvature).to(ScalarType.Float64).t() + x / priorVariance;
    }

    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);
}
