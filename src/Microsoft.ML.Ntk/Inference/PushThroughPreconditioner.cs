using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The exact inverse of the weight-space system G + λ I (G = JᵀJ, λ = σ²/s²) by the push-through identity,
/// (G + λ I)⁻¹ v = (v − Jᵀ (K0 + λ I)⁻¹ J v) / λ, from a Cholesky factor L of s² K0 + σ² I (so (K0 + λ I)⁻¹ = s² (L Lᵀ)⁻¹).
/// One application costs one J·V and one Jᵀ·U, as a Gauss–Newton product does; used while the explicit kernel is
/// affordable, conjugate gradients then converge in one or two iterations.
/// </summary>
internal sealed class PushThroughPreconditioner(LinearizedNetwork network, PreparedInputs inputs, long outputs, Tensor lower,
                                                double priorVariance, double noiseVariance) : IPreconditioner
{
    public Tensor Apply(Tensor residuals)
    {
        using var scope = NewDisposeScope();
        long k = residuals.shape[1];
        var dtype = network.Parameters.DType;
        Tensor jv = network.Jvp(inputs, residuals.t().contiguous().to(dtype)).to(ScalarType.Float64).reshape(k, -1).t();   // [N·C, k]
        Tensor solved = cholesky_solve(jv, lower).Times(priorVariance);
        Tensor back = network.Vjp(inputs, solved.t().reshape(k, inputs.Count, outputs).to(dtype)).to(ScalarType.Float64).t();  // [P, k]
        double ratio = noiseVariance / priorVariance;
        return scope.MoveToOuter((residuals.to(ScalarType.Float64) - back).Over(ratio));
    }
}
