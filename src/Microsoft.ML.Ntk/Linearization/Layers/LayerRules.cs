using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>The table of layer kinds the library differentiates itself; the first rule that handles a module is its rule.</summary>
internal static class LayerRules
{
    private static readonly LayerRule[] All =
    {
        new SequentialRule(),
        new ResidualBlockRule(),
        new LinearRule(),
        new Conv2dRule(),
        new BatchNormRule(),
        new MaxPoolRule(),
        new LinearMapRule(),
        new PassThroughRule(),
        new ActivationRule(),
    };

    /// <summary>The rule for <paramref name="module"/>, or null when none handles it.</summary>
    public static LayerRule? For(nn.Module module) => All.FirstOrDefault(rule => rule.Handles(module));

    /// <summary>The first module (by path) that no rule handles or whose settings its rule does not support, or null.</summary>
    public static string? FirstUnknown(nn.Module module, string path = "network") =>
        For(module) is { } rule ? rule.FirstUnknown(module, path) : $"{path} ({module.GetType().Name})";
}
