using Microsoft.ML.Ntk.Linearization.Tangents;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>The built-in residual block: y = relu(bn2(conv2(relu(bn1(conv1(a))))) + shortcut(a)).</summary>
internal sealed class ResidualBlockRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is ResidualBlock;

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var block = (ResidualBlock)module;
        var (h, hDot) = TangentPropagation.Propagate(block.conv1, a, aDot, context);
        (h, hDot) = TangentPropagation.Propagate(block.bn1, h, hDot, context);
        (h, hDot) = ActivationDerivatives.Relu(h, hDot, context);
        (h, hDot) = TangentPropagation.Propagate(block.conv2, h, hDot, context);
        (h, hDot) = TangentPropagation.Propagate(block.bn2, h, hDot, context);
        var (s, sDot) = TangentPropagation.Propagate(block.shortcut, a, aDot, context);
        Tensor sum = context.Primal(() => h.Plus(s));
        return ActivationDerivatives.Relu(sum, LayerShapes.Add(hDot, sDot), context);
    }
}
