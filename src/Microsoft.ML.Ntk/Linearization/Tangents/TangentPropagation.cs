using TorchSharp;
using TorchSharp.Modules;
using Microsoft.ML.Ntk.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// Forward-mode differentiation written for known layers: each layer maps (activation a, tangent ȧ) to (output y,
/// tangent ẏ), adding the terms of its own adapted parameters. Tangents carry k directions in a leading dimension
/// (ȧ is [k, B, ...] while a is [B, ...]); a null tangent means zero, so a frozen prefix costs one plain forward pass.
/// </summary>
internal static class TangentPropagation
{
    public static (Tensor Output, Tensor? Tangent) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context) =>
        module switch
        {
            Sequential sequential => PropagateSequence(sequential, a, aDot, context),
            ResidualBlock block => PropagateResidual(block, a, aDot, context),
            TorchSharp.Modules.Linear linear => AffineTangents.Linear(linear, a, aDot, context),
            Conv2d conv => AffineTangents.Conv2d(conv, a, aDot, context),
            BatchNorm norm => AffineTangents.BatchNorm(norm, a, aDot, context),
            MaxPool2d pool => PoolingTangents.MaxPool(pool, a, aDot, context),
            AvgPool2d or AdaptiveAvgPool2d or Flatten => LinearMap((nn.Module<Tensor, Tensor>)module, a, aDot, context),
            Dropout or Identity => (a, aDot),
            _ when ActivationDerivatives.IsKnown(module) => ActivationDerivatives.Propagate(module, a, aDot, context),
            _ => throw new NotSupportedException($"No tangent rule for module type {module.GetType().Name}."),
        };

    /// <summary>The first module (by path) without a tangent rule, or null when every module is known.</summary>
    public static string? FirstUnknown(nn.Module module, string path = "network") => module switch
    {
        Sequential sequential => sequential.named_children().Select(c => FirstUnknown(c.module, path + "." + c.name)).FirstOrDefault(u => u is not null),
        ResidualBlock => null,
        TorchSharp.Modules.Linear => null,
        Conv2d conv => AffineTangents.Supports(conv) ? null : $"{path} (a Conv2d with unsupported padding)",
        BatchNorm norm => AffineTangents.Supports(norm) ? null : $"{path} (a batch norm without running statistics)",
        MaxPool2d or AvgPool2d or AdaptiveAvgPool2d or Dropout or Identity => null,
        Flatten flatten => flatten.start_dim >= 1 ? null : $"{path} (a Flatten that merges the batch dimension)",
        _ when ActivationDerivatives.IsKnown(module) => null,
        _ => $"{path} ({module.GetType().Name})",
    };

    private static (Tensor, Tensor?) PropagateSequence(Sequential sequential, Tensor a, Tensor? aDot, PropagationContext context)
    {
        foreach (var (_, child) in sequential.named_children())
            (a, aDot) = Propagate(child, a, aDot, context);
        return (a, aDot);
    }

    /// <summary>y = relu(main(a) + shortcut(a)).</summary>
    private static (Tensor, Tensor?) PropagateResidual(ResidualBlock block, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var (h, hDot) = Propagate(block.conv1, a, aDot, context);
        (h, hDot) = Propagate(block.bn1, h, hDot, context);
        (h, hDot) = ActivationDerivatives.Relu(h, hDot, context);
        (h, hDot) = Propagate(block.conv2, h, hDot, context);
        (h, hDot) = Propagate(block.bn2, h, hDot, context);
        var (s, sDot) = Propagate(block.shortcut, a, aDot, context);
        Tensor sum = context.Primal(() => h + s);
        return ActivationDerivatives.Relu(sum, Add(hDot, sDot), context);
    }

    /// <summary>A layer that is linear in its input and treats batch rows independently: apply it to the tangent too.</summary>
    private static (Tensor, Tensor?) LinearMap(nn.Module<Tensor, Tensor> module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        Tensor y = context.Primal(() => module.call(a));
        if (aDot is null) return (y, null);
        Tensor merged = module.call(aDot.flatten(0, 1));
        return (y, merged.unflatten(0, new[] { aDot.shape[0], aDot.shape[1] }));
    }

    internal static Tensor? Add(Tensor? x, Tensor? y) => x is null ? y : y is null ? x : x + y;
}
