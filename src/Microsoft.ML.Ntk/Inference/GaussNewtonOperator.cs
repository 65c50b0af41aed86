using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>G = JᵀJ over the P adapted parameters as a matrix-free operator (Gauss–Newton products with Λ = I).</summary>
internal sealed class GaussNewtonOperator(LinearizedNetwork network, PreparedInputs inputs) : LinearOperator
{
    public override long Rows => network.Parameters.Count;
    public override long Columns => Rows;
    public override ScalarType DType => network.Parameters.DType;
    public override Device Device => network.Parameters.Device;

    protected override Tensor MultiplyCore(Tensor x) =>
        network.GaussNewtonProduct(inputs, x.t().contiguous(), OutputCurvature.Identity).t();

    protected override Tensor TransposedMultiplyCore(Tensor y) => MultiplyCore(y);
}
