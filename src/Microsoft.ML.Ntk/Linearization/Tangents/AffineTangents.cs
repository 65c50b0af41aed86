using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// Tangent rules of the layers that hold parameters. Each is bilinear in (input, weight), so
/// ẏ = layer(ȧ; W) + layer(a; Ẇ) + ḃ, with the bias left out of the first two terms.
/// </summary>
internal static class AffineTangents
{
    public static (Tensor, Tensor?) Linear(TorchSharp.Modules.Linear layer, Tensor a, Tensor? aDot, ParameterTangents tangents)
    {
        Tensor y = nn.functional.linear(a, layer.weight!, layer.bias);
        tangents.RecordLayer?.Invoke(layer, a, y);
        Tensor? yDot = aDot is null ? null : aDot.matmul(layer.weight!.t());
        if (tangents.Of(layer.weight) is { } wDot)
        {
            // a [B, ..., in] against Ẇ [k, out, in]: [k, B, ..., out]
            Tensor flat = a.reshape(-1, a.shape[^1]);
            Tensor term = flat.matmul(wDot.transpose(1, 2)).reshape(Shape(wDot.shape[0], y.shape));
            yDot = TangentPropagation.Add(yDot, term);
        }
        if (tangents.Of(layer.bias) is { } bDot)
            yDot = TangentPropagation.Add(yDot, Broadcast(bDot, y, channelDim: y.dim() - 1));
        return (y, yDot);
    }

    public static bool Supports(Conv2d conv) =>
        !conv.transposed && conv.padding_mode == PaddingModes.Zeros && ExplicitPadding(conv) is not null;

    public static (Tensor, Tensor?) Conv2d(Conv2d conv, Tensor a, Tensor? aDot, ParameterTangents tangents)
    {
        long[] padding = ExplicitPadding(conv)!;
        Tensor Apply(Tensor input, Tensor weight, Tensor? bias) =>
            nn.functional.conv2d(input, weight, bias, conv.stride, padding, conv.dilation, conv.groups);

        Tensor y = Apply(a, conv.weight!, conv.bias);
        tangents.RecordLayer?.Invoke(conv, a, y);
        Tensor? yDot = aDot is null ? null : Apply(aDot.flatten(0, 1), conv.weight!, null).unflatten(0, new[] { aDot.shape[0], aDot.shape[1] });
        if (tangents.Of(conv.weight) is { } wDot)
        {
            long k = wDot.shape[0];
            Tensor term = conv.groups == 1
                // all k tangent kernels at once, as k·out output channels: [B, k·out, H, W] -> [k, B, out, H, W]
                ? Apply(a, wDot.flatten(0, 1), null).unflatten(1, new[] { k, y.shape[1] }).transpose(0, 1)
                : stack(Enumerable.Range(0, (int)k).Select(j => Apply(a, wDot[j], null)).ToArray());
            yDot = TangentPropagation.Add(yDot, term);
        }
        if (tangents.Of(conv.bias) is { } bDot)
            yDot = TangentPropagation.Add(yDot, Broadcast(bDot, y, channelDim: 1));
        return (y, yDot);
    }

    public static bool Supports(BatchNorm norm) => norm.running_mean is not null && norm.running_var is not null;

    /// <summary>Evaluation mode: y = x̂ γ + β with x̂ = (a − μ) / sqrt(σ² + ε) from the running statistics.</summary>
    public static (Tensor, Tensor?) BatchNorm(BatchNorm norm, Tensor a, Tensor? aDot, ParameterTangents tangents)
    {
        Tensor inverseStd = (norm.running_var! + norm.eps).rsqrt();
        Tensor normalized = Normalized(norm, a);
        Tensor scale = norm.weight is null ? inverseStd : inverseStd * norm.weight;
        Tensor y = normalized * (norm.weight is null ? 1 : PerChannel(norm.weight, a));
        if (norm.bias is not null) y = y + PerChannel(norm.bias, a);
        tangents.RecordLayer?.Invoke(norm, a, y);

        Tensor? yDot = aDot is null ? null : aDot * PerChannel(scale, a);
        if (tangents.Of(norm.weight) is { } gammaDot)
            yDot = TangentPropagation.Add(yDot, normalized * Broadcast(gammaDot, a, channelDim: 1));
        if (tangents.Of(norm.bias) is { } betaDot)
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

    private static long[] Shape(long k, long[] rest) => AdaptedParameters.Prepend(k, rest);
}
