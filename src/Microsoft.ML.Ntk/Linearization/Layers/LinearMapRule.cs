using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>Layers linear in their input that treat batch rows independently (average pooling, Flatten): applied to the tangent too.</summary>
internal sealed class LinearMapRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is AvgPool2d or AdaptiveAvgPool2d or Flatten;

    public override string? Unsupported(nn.Module module) =>
        module is Flatten { start_dim: < 1 } ? "a Flatten that merges the batch dimension" : null;

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var map = (nn.Module<Tensor, Tensor>)module;
        Tensor y = context.Primal(() => map.call(a));
        if (aDot is null) return (y, null);
        return (y, LayerShapes.Unmerge(map.call(aDot.flatten(0, 1)), aDot.shape[0]));
    }
}
