using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>Reshaping helpers the layer rules share.</summary>
internal static class LayerShapes
{
    /// <summary>A per-channel vector [C] shaped to broadcast against x [B, C, ...].</summary>
    public static Tensor PerChannel(Tensor vector, Tensor x)
    {
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[1] = vector.shape[0];
        return vector.reshape(shape);
    }

    /// <summary>A tangent [k, C] of a per-channel parameter, shaped to broadcast against [k, B, ..., C at channelDim, ...].</summary>
    public static Tensor Broadcast(Tensor tangent, Tensor y, long channelDim)
    {
        var shape = Enumerable.Repeat(1L, (int)y.dim() + 1).ToArray();
        shape[0] = tangent.shape[0];
        shape[channelDim + 1] = tangent.shape[1];
        return tangent.reshape(shape);
    }

    /// <summary>[k·B, ...] back to [k, B, ...].</summary>
    public static Tensor Unmerge(Tensor merged, long k) => merged.unflatten(0, new[] { k, merged.shape[0] / k });

    /// <summary>The dimensions after the first two (the positions of a [B, C, ...] tensor).</summary>
    public static long[] Positions(Tensor x) => Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d).ToArray();

    /// <summary>Sums a [B, C, ...] tensor over its positions.</summary>
    public static Tensor SumOverPositions(Tensor x) => x.dim() <= 2 ? x : x.sum(Positions(x));

    internal static Tensor? Add(Tensor? x, Tensor? y) => x is null ? y : y is null ? x : x.Plus(y);

    /// <summary>Conv2d padding as numbers; 'same' is symmetric only for odd effective kernel sizes, else null.</summary>
    public static long[]? ExplicitPadding(Conv2d conv)
    {
        if (conv.padding_type is null) return conv.padding;
        if (conv.padding_type == TorchSharp.Padding.Valid) return new long[] { 0, 0 };
        var padding = new long[2];
        for (int d = 0; d < 2; d++)
        {
            long total = conv.dilation[d] * (conv.kernel_size[d] - 1);
            if (total % 2 != 0) return null;
            padding[d] = total / 2;
        }
        return padding;
    }
}
