using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>Element-wise activations: ẏ = σ'(a) ȧ, with the derivatives of <see cref="ActivationDerivatives"/>.</summary>
internal sealed class ActivationRule : LayerRule
{
    public override bool Handles(nn.Module module) => ActivationDerivatives.IsKnown(module);

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context) =>
        ActivationDerivatives.Propagate(module, a, aDot, context);
}
