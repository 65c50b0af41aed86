using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference.ParameterSpaceReference;

/// <summary>
/// The parameter shifts a softmax MAP moves, with their Jacobian products. Coupled: one shift of the P adapted
/// parameters moves every output. Independent outputs: one shift per output (C·P values, output c moving along its
/// own copy only), so J·V keeps output c of tangent block c, and Jᵀ·U gives block c from output c's cotangents.
/// </summary>
internal sealed class ParameterSpace(LinearizedNetwork network, PreparedInputs inputs, long outputs, bool independent)
{
    public long Dimension => independent ? outputs * network.Parameters.Count : network.Parameters.Count;

    /// <summary>J·V for V [k, Dimension] in float64; returns [k, N, C] in float64.</summary>
    public Tensor Jvp(Tensor v)
    {
        long k = v.shape[0];
        if (!independent) return network.Jvp(inputs, v.to(network.Parameters.DType)).to(ScalarType.Float64);
        Tensor moved = network.Jvp(inputs, v.reshape(k * outputs, -1).to(network.Parameters.DType)).to(ScalarType.Float64);
        return moved.reshape(k, outputs, inputs.Count, outputs).diagonal(0, 1, 3);   // [k, N, C]: output c along block c
    }

    /// <summary>Jᵀ·U for U [k, N, C] in float64; returns [k, Dimension] in float64.</summary>
    public Tensor Vjp(Tensor u)
    {
        long k = u.shape[0];
        if (!independent) return network.Vjp(inputs, u.to(network.Parameters.DType)).to(ScalarType.Float64);
        Tensor mask = eye(outputs, dtype: u.dtype, device: u.device).reshape(1, outputs, 1, outputs);
        Tensor split = (u.unsqueeze(1) * mask).reshape(k * outputs, inputs.Count, outputs);
        return network.Vjp(inputs, split.to(network.Parameters.DType)).to(ScalarType.Float64).reshape(k, -1);
    }

    /// <summary>Jᵀ Λ J·V for V [k, Dimension] with the softmax curvature at probabilities p [N, C].</summary>
    public Tensor GaussNewton(Tensor v, Tensor probabilities)
    {
        if (!independent)
            return network.GaussNewtonProduct(inputs, v.to(network.Parameters.DType), OutputCurvature.Softmax(probabilities)).to(ScalarType.Float64);
        Tensor jv = Jvp(v);
        Tensor p = probabilities.to(ScalarType.Float64);
        return Vjp(p * jv - p * (p * jv).sum(-1, keepdim: true));
    }
}
