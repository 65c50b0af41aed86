using Microsoft.ML.Ntk.Linearization.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// Forward-mode differentiation written for known layers: each layer maps (activation a, tangent ȧ) to (output y,
/// tangent ẏ), adding the terms of its own adapted parameters, by the rule <see cref="LayerRules"/> gives it. Tangents
/// carry k directions in a leading dimension (ȧ is [k, B, ...] while a is [B, ...]); a null tangent means zero, so a
/// frozen prefix costs one plain forward pass.
/// </summary>
internal static class TangentPropagation
{
    public static (Tensor Output, Tensor? Tangent) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context) =>
        (LayerRules.For(module) ?? throw new NotSupportedException($"No tangent rule for module type {module.GetType().Name}."))
        .Propagate(module, a, aDot, context);

    /// <summary>The first module (by path) without a tangent rule, or null when every module is known.</summary>
    public static string? FirstUnknown(nn.Module module, string path = "network") => LayerRules.FirstUnknown(module, path);
}
