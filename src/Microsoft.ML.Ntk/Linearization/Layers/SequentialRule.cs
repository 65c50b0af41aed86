using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>A Sequential: its children's rules in order.</summary>
internal sealed class SequentialRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is Sequential;

    public override string? FirstUnknown(nn.Module module, string path) =>
        ((Sequential)module).named_children().Select(c => LayerRules.FirstUnknown(c.module, path + "." + c.name)).FirstOrDefault(u => u is not null);

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        foreach (var (_, child) in ((Sequential)module).named_children())
            (a, aDot) = TangentPropagation.Propagate(child, a, aDot, context);
        return (a, aDot);
    }
}
