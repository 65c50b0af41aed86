using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// The layers that hold parameters. Each is bilinear in (input, weight), so ẏ = layer(ȧ; W) + layer(a; Ẇ) + ḃ,
/// with the bias left out of the first two terms.
/// </summary>
internal static class AffineTangents
{
    public static (Tensor, Tensor?) Linear(TorchSharp.Modules.Linear layer, Tensor a, Tensor? aDot, PropagationContext context)
    {
        Tensor weight = layer.weight!;
        Tensor y = context.Primal(() => nn.functional.linear(a, weight, layer.bias));
        context.RecordLayer?.Invoke(layer, a, y);
        context.Enter(weight, layer.bias);

        Tensor? yDot = aDot?.matmul(weight.t());
        if (context.TangentOf(weight) is { } wDot)
        {
            // a [B, ..., in] against Ẇ [k, out, in]: [k, B, ..., out]
            Tensor term = a.reshape(-1, a.shape[^1]).matmul(wDot.transpose(1, 2)).reshape(AdaptedParameters.Prepend(wDot.shape[0], y.shape));
            yDot = TangentPropagation.Add(yDot, term);
        }
        if (context.TangentOf(layer.bias) is { } bDot)
            yDot = TangentPropagation.Add(yDot, Broadcast(bDot, y, channelDim: y.dim() - 1));
        return (y, yDot);
    }

    public static bool Supports(Conv2d conv) =>
        !conv.transposed && conv.padding_mode == PaddingModes.Zeros && ExplicitPadding(conv) is not null;

    public static (Tensor, Tensor?) Conv2d(Conv2d conv, Tensor a, Tensor? aDot, PropagationContext context)
    {
        long[] padding = ExplicitPadding(conv)!;
        Tensor weight = conv.weight!;
        Tensor Apply(Tensor input, Tensor w, Tensor? bias) =>
            nn.functional.conv2d(input, w, bias, conv.stride, padding, conv.dilation, conv.groups);

        Tensor y = context.Primal(() => Apply(a, weight, conv.bias));
        context.RecordLayer?.Invoke(conv, a, y);
        context.Enter(weight, conv.bias);

        Tensor? yDot = aDot is null ? null : Unmerge(Apply(aDot.flatten(0, 1), weight, null), aDot.shape[0]);
        if (context.TangentOf(weight) is { } wDot)
        {
            long k = wDot.shape[0];
            Tensor term = conv.groups == 1
                // all k tangent kernels at once, as k·out output channels: [B, k·out, H, W] -> [k, B, out, H, W]
                ? Apply(a, wDot.flatten(0, 1), null).unflatten(1, new[] { k, y.shape[1] }).transpose(0, 1)
                : stack(Enumerable.Range(0, (int)k).Select(j => Apply(a, wDot[j], null)).ToArray());
            yDot = TangentPropagation.Add(yDot, term);
        }
        if (context.TangentOf(conv.bias) is { } bDot)
            yDot = TangentPropagation.Add(yDot, Broadcast(bDot, y, channelDim: 1));
        return (y, yDot);
    }

    public static bool Supports(BatchNorm norm) => norm.running_mean is not null && norm.running_var is not null;

    /// <summary>Evaluation mode: y = x̂ γ + β with x̂ = (a − μ) / sqrt(σ² + ε) from the running statistics.</summary>
    public static (Tensor, Tensor?) BatchNorm(BatchNorm norm, Tensor a, Tensor? aDot, PropagationContext context)
    {
        Tensor y = context.Primal(() => nn.functional.batch_norm(a, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                                                  training: false, eps: norm.eps));
        context.RecordLayer?.Invoke(norm, a, y);
        context.Enter(norm.weight, norm.bias);
        Tensor scale = (norm.running_var! + norm.eps).rsqrt();
        if (norm.weight is not null) scale = scale * norm.weight;
        Tensor? normalized = context.IsAdapted(norm.weight) ? context.Primal(() => Normalized(norm, a), differentiable: false) : null;

        Tensor? yDot = aDot is null ? null : aDot * PerChannel(scale, a);
        if (context.TangentOf(norm.weight) is { } gammaDot)
            yDot = TangentPropagation.Add(yDot, normalized! * Broadcast(gammaDot, a, channelDim: 1));
        if (context.TangentOf(norm.bias) is { } betaDot)
            yDot = TangentPropagation.Add(yDot, Broadcast(betaDot, a, channelDim: 1));
        return (y, yDot);
    }

    /// <summary>(a − μ) / sqrt(σ² + ε) of a batch norm in evaluation mode.</summary>
    public static Tensor Normalized(BatchNorm norm, Tensor a) =>
        (a - PerChannel(norm.running_mean!, a)) * PerChannel((norm.running_var! + norm.eps).rsqrt(), a);

    /// <summary>Conv2d padding as numbers; 'same' is symmetric only for odd effective kernel sizes, else null.</summary>
    internal static long[]? ExplicitPadding(Conv2d conv)
    {
        if (conv.padding_type is null) return conv.padding;
        if (conv.padding_type == Padding.Valid) return new long[] { 0, 0 };
        var padding = new long[2];
        for (int d = 0; d < 2; d++)
        {
            long total = conv.dilation[d] * (conv.kernel_size[d] - 1);
            if (total % 2 != 0) return null;
            padding[d] = total / 2;
        }
        return padding;
    }

    private static Tensor Unmerge(Tensor merged, long k) => merged.unflatten(0, new[] { k, merged.shape[0] / k });

    /// <summary>A per-channel vector [C] shaped to broadcast against x [B, C, ...].</summary>
    private static Tensor PerChannel(Tensor vector, Tensor x)
    {
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[1] = vector.shape[0];
        return vector.reshape(shape);
    }

    /// <summary>A tangent [k, C] of a per-channel parameter, shaped to broadcast against [k, B, ..., C at channelDim, ...].</summary>
    private static Tensor Broadcast(Tensor tangent, Tensor y, long channelDim)
    {
        var shape = Enumerable.Repeat(1L, (int)y.dim() + 1).ToArray();
        shape[0] = tangent.shape[0];
        shape[channelDim + 1] = tangent.shape[1];
        return tangent.reshape(shape);
    }
}
