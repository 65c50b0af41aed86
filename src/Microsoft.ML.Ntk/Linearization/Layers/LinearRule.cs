using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>
/// y = a Wᵀ + b on the last dimension. Tangent: ẏ = ȧ Wᵀ + a Ẇᵀ + ḃ. An input's gradient sums δ aᵀ over its positions
/// (one position for vectors). Its part of the kernel is structured: (Δ1 Δ2ᵀ) ∘ (A1 A2ᵀ) for the weight, Δ1 Δ2ᵀ for
/// the bias, without forming J.
/// </summary>
internal sealed class LinearRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is TorchSharp.Modules.Linear;

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var layer = (TorchSharp.Modules.Linear)module;
        Tensor weight = layer.weight!;
        Tensor y = context.Primal(() => nn.functional.linear(a, weight, layer.bias));
        context.RecordLayer?.Invoke(layer, a, y);
        context.Enter(weight, layer.bias);

        Tensor? yDot = aDot?.matmul(weight.t());
        if (context.TangentOf(weight) is { } wDot)
        {
            // a [B, ..., in] against Ẇ [k, out, in]: [k, B, ..., out]
            Tensor term = a.reshape(-1, a.shape[^1]).matmul(wDot.transpose(1, 2)).reshape(AdaptedParameters.Prepend(wDot.shape[0], y.shape));
            yDot = LayerShapes.Add(yDot, term);
        }
        if (context.TangentOf(layer.bias) is { } bDot)
            yDot = LayerShapes.Add(yDot, LayerShapes.Broadcast(bDot, y, channelDim: y.dim() - 1));
        return (y, yDot);
    }

    public override IEnumerable<(Tensor, Tensor)> PerExampleGradients(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var layer = (TorchSharp.Modules.Linear)module;
        Tensor d = delta.reshape(delta.shape[0], -1, delta.shape[^1]);                 // [B, S, out]
        if (adapted(layer.weight))
            yield return (layer.weight!, d.transpose(1, 2).matmul(a.reshape(a.shape[0], -1, a.shape[^1])));   // [B, out, in]
        if (adapted(layer.bias))
            yield return (layer.bias!, d.sum(1));
    }

    /// <summary>The inputs and signals themselves, positions being a sequence's elements (one position for vectors).</summary>
    public override KernelFactors? FactoredKernel(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var layer = (TorchSharp.Modules.Linear)module;
        bool weight = adapted(layer.weight), bias = adapted(layer.bias);
        return weight || bias
            ? new KernelFactors(weight ? a.reshape(a.shape[0], -1, a.shape[^1]) : null, delta.reshape(delta.shape[0], -1, delta.shape[^1]), bias)
            : null;
    }

    /// <summary>Exact on vectors; on sequences the Cauchy–Schwarz bound (Σ_s |δ_s| |a_s|)² of |Σ_s δ_s a_sᵀ|².</summary>
    public override Tensor SquaredNormBound(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var layer = (TorchSharp.Modules.Linear)module;
        Tensor d = delta.to(ScalarType.Float64).reshape(delta.shape[0], -1, delta.shape[^1]);
        Tensor input = a.to(ScalarType.Float64).reshape(a.shape[0], -1, a.shape[^1]);
        Tensor total = zeros(a.shape[0], dtype: ScalarType.Float64, device: a.device);
        if (adapted(layer.weight)) total.Accumulate((d.Squared().sum(-1).sqrt() * input.Squared().sum(-1).sqrt()).sum(1).Squared());
        if (adapted(layer.bias)) total.Accumulate(d.sum(1).Squared().sum(1));
        return total;
    }

}
