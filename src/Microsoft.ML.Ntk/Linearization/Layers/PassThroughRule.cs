using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>Dropout (in evaluation mode) and Identity change nothing.</summary>
internal sealed class PassThroughRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is Dropout or Identity;

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context) => (a, aDot);
}
