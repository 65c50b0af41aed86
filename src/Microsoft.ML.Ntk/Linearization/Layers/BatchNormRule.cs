using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>
/// Batch norm in evaluation mode: y = x̂ γ + β with x̂ = (a − μ) / sqrt(σ² + ε) from the running statistics. Tangent:
/// ẏ = ȧ γ / sqrt(σ² + ε) + x̂ γ̇ + β̇. An input's gradients sum δ x̂ (for γ) and δ (for β) over its positions.
/// </summary>
internal sealed class BatchNormRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is BatchNorm;

    public override string? Unsupported(nn.Module module) =>
        module is BatchNorm { running_mean: not null, running_var: not null } ? null : "a batch norm without running statistics";

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var norm = (BatchNorm)module;
        Tensor y = context.Primal(() => nn.functional.batch_norm(a, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                                                  training: false, eps: norm.eps));
        context.RecordLayer?.Invoke(norm, a, y);
        context.Enter(norm.weight, norm.bias);
        Tensor scale = norm.running_var!.PlusConstant(norm.eps).rsqrt();
        if (norm.weight is not null) scale = scale * norm.weight;
        Tensor? normalized = context.IsAdapted(norm.weight) ? context.Primal(() => Normalized(norm, a), differentiable: false) : null;

        Tensor? yDot = aDot is null ? null : aDot * LayerShapes.PerChannel(scale, a);
        if (context.TangentOf(norm.weight) is { } gammaDot)
            yDot = LayerShapes.Add(yDot, normalized! * LayerShapes.Broadcast(gammaDot, a, channelDim: 1));
        if (context.TangentOf(norm.bias) is { } betaDot)
            yDot = LayerShapes.Add(yDot, LayerShapes.Broadcast(betaDot, a, channelDim: 1));
        return (y, yDot);
    }

    /// <summary>The normalized input (a − μ) / sqrt(σ² + ε), formed once for all outputs; a itself when only the bias is adapted.</summary>
    public override Tensor ExampleInput(nn.Module module, Tensor a, Func<Tensor?, bool> adapted) =>
        adapted(((BatchNorm)module).weight) ? Normalized((BatchNorm)module, a) : a;

    public override IEnumerable<(Tensor, Tensor)> PerExampleGradients(nn.Module module, Tensor normalized, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var norm = (BatchNorm)module;
        if (adapted(norm.weight)) yield return (norm.weight!, LayerShapes.SumOverPositions(delta * normalized));
        if (adapted(norm.bias)) yield return (norm.bias!, LayerShapes.SumOverPositions(delta));
    }

    /// <summary>(a − μ) / sqrt(σ² + ε) of a batch norm in evaluation mode.</summary>
    private static Tensor Normalized(BatchNorm norm, Tensor a) =>
        a.Minus(LayerShapes.PerChannel(norm.running_mean!, a)) * LayerShapes.PerChannel(norm.running_var!.PlusConstant(norm.eps).rsqrt(), a);
}
