using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>
/// A 2-d convolution (any stride, dilation, groups and zero padding). Tangent: ẏ = conv(ȧ; W) + conv(a; Ẇ) + ḃ. An input's
/// weight gradient is δ times its unfolded input patches, Σ_s δ_s p_sᵀ over the output positions s, per group.
/// </summary>
internal sealed class Conv2dRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is Conv2d;

    public override string? Unsupported(nn.Module module) =>
        module is Conv2d conv && !conv.transposed && conv.padding_mode == PaddingModes.Zeros && LayerShapes.ExplicitPadding(conv) is not null
            ? null : "a Conv2d with unsupported padding";

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var conv = (Conv2d)module;
        long[] padding = LayerShapes.ExplicitPadding(conv)!;
        Tensor weight = conv.weight!;
        Tensor Apply(Tensor input, Tensor w, Tensor? bias) =>
            nn.functional.conv2d(input, w, bias, conv.stride, padding, conv.dilation, conv.groups);

        Tensor y = context.Primal(() => Apply(a, weight, conv.bias));
        context.RecordLayer?.Invoke(conv, a, y);
        context.Enter(weight, conv.bias);

        Tensor? yDot = aDot is null ? null : LayerShapes.Unmerge(Apply(aDot.flatten(0, 1), weight, null), aDot.shape[0]);
        if (context.TangentOf(weight) is { } wDot)
        {
            long k = wDot.shape[0];
            Tensor term = conv.groups == 1
                // all k tangent kernels at once, as k·out output channels: [B, k·out, H, W] -> [k, B, out, H, W]
                ? Apply(a, wDot.flatten(0, 1), null).unflatten(1, new[] { k, y.shape[1] }).transpose(0, 1)
                : stack(Enumerable.Range(0, (int)k).Select(j => Apply(a, wDot[j], null)).ToArray());
            yDot = LayerShapes.Add(yDot, term);
        }
        if (context.TangentOf(conv.bias) is { } bDot)
            yDot = LayerShapes.Add(yDot, LayerShapes.Broadcast(bDot, y, channelDim: 1));
        return (y, yDot);
    }

    /// <summary>The unfolded input patches [B, in·kh·kw, L] (<see cref="Patches"/>), formed once for all outputs; a itself when only the bias is adapted.</summary>
    public override Tensor ExampleInput(nn.Module module, Tensor a, Func<Tensor?, bool> adapted) =>
        adapted(((Conv2d)module).weight) ? Patches((Conv2d)module, a) : a;

    public override IEnumerable<(Tensor, Tensor)> PerExampleGradients(nn.Module module, Tensor patches, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var conv = (Conv2d)module;
        long b = patches.shape[0], groups = conv.groups, output = delta.shape[1];
        if (adapted(conv.weight))
        {
            Tensor grouped = patches.reshape(b, groups, patches.shape[1] / groups, patches.shape[2]);
            Tensor signals = delta.reshape(b, groups, output / groups, -1);                                       // [B, g, out/g, L]
            yield return (conv.weight!, signals.matmul(grouped.transpose(2, 3)).reshape(AdaptedParameters.Prepend(b, conv.weight!.shape)));
        }
        if (adapted(conv.bias))
            yield return (conv.bias!, LayerShapes.SumOverPositions(delta));
    }

    /// <summary>
    /// Without groups: positions are the output pixels, u the unfolded input patch each sees [B, L, in·kh·kw] (kept as the
    /// input itself, unfolded when used) and δ the signal there [B, L, out]. With groups the patches of one group meet only that group's signals, which is not this form.
    /// </summary>
    public override KernelFactors? FactoredKernel(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var conv = (Conv2d)module;
        bool weight = adapted(conv.weight), bias = adapted(conv.bias);
        if (conv.groups != 1 || !(weight || bias)) return null;
        Tensor signals = delta.flatten(2).transpose(1, 2);                                             // [B, L, out]
        return new KernelFactors(weight ? a : null, signals, bias, weight ? input => Patches(conv, input).transpose(1, 2) : null);
    }

    /// <summary>The Cauchy–Schwarz bound (Σ_s |δ_s| |p_s|)² for the weight (p_s: the input patch at s), exact for the bias.</summary>
    public override Tensor SquaredNormBound(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        var conv = (Conv2d)module;
        a = a.to(ScalarType.Float64);
        delta = delta.to(ScalarType.Float64);
        Tensor total = zeros(a.shape[0], dtype: ScalarType.Float64, device: a.device);
        if (adapted(conv.weight))
            total.Accumulate((delta.Squared().sum(1, keepdim: true).sqrt() * PatchNorms(conv, a)).sum(new long[] { 1, 2, 3 }).Squared());
        if (adapted(conv.bias)) total.Accumulate(delta.sum(new long[] { 2, 3 }).Squared().sum(1));
        return total;
    }

    /// <summary>The input patch each output position sees, [B, in·kh·kw, L].</summary>
    private static Tensor Patches(Conv2d conv, Tensor a)
    {
        long[] padding = LayerShapes.ExplicitPadding(conv)!;
        return nn.functional.unfold(a, (conv.kernel_size[0], conv.kernel_size[1]), (conv.dilation[0], conv.dilation[1]),
                                    (padding[0], padding[1]), (conv.stride[0], conv.stride[1]));
    }

    /// <summary>|p_s| for every output position s: the norm of the input patch the kernel sees there.</summary>
    private static Tensor PatchNorms(Conv2d conv, Tensor a)
    {
        Tensor ones = torch.ones(1, a.shape[1], conv.kernel_size[0], conv.kernel_size[1], dtype: a.dtype, device: a.device);
        return nn.functional.conv2d(a.Squared(), ones, null, conv.stride, LayerShapes.ExplicitPadding(conv), conv.dilation, 1).sqrt();
    }
}
