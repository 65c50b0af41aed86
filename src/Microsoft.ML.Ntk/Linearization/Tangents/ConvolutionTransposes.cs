using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>The transposes of a convolution's two linear maps: input ↦ output and weight ↦ output.</summary>
internal static class ConvolutionTransposes
{
    /// <summary>Cotangent [k, B, in, H, W] of the input, from the output's [k, B, out, H', W'].</summary>
    public static Tensor InputCotangent(Conv2d conv, long[] padding, long[] inputShape, Tensor cotangent)
    {
        long k = cotangent.shape[0];
        var outputPadding = new long[2];
        for (int d = 0; d < 2; d++)
        {
            long produced = (cotangent.shape[3 + d] - 1) * conv.stride[d] - 2 * padding[d] + conv.dilation[d] * (conv.kernel_size[d] - 1) + 1;
            outputPadding[d] = inputShape[2 + d] - produced;
        }
        Tensor merged = nn.functional.conv_transpose2d(cotangent.flatten(0, 1), conv.weight!, null, conv.stride, padding,
                                                       outputPadding, conv.dilation, conv.groups);
        return merged.unflatten(0, new[] { k, inputShape[0] });
    }

    /// <summary>Cotangent [k, out, in/groups, kh, kw] of the weight: Σ over inputs and positions of δ ⊗ input patch.</summary>
    public static Tensor WeightCotangent(Conv2d conv, long[] padding, Tensor a, Tensor cotangent)
    {
        if (conv.groups != 1) return GroupedWeightCotangent(conv, padding, a, cotangent);
        long k = cotangent.shape[0], batch = a.shape[0], outputs = cotangent.shape[2];
        Tensor patches = nn.functional.unfold(a, (conv.kernel_size[0], conv.kernel_size[1]), (conv.dilation[0], conv.dilation[1]),
                                              (padding[0], padding[1]), (conv.stride[0], conv.stride[1]));   // [B, in·kh·kw, L]
        long positions = patches.shape[2];
        Tensor signals = cotangent.reshape(k, batch, outputs, positions).permute(0, 2, 1, 3).reshape(k, outputs, batch * positions);
        Tensor rows = patches.permute(0, 2, 1).reshape(batch * positions, -1);
        return signals.matmul(rows).reshape(AdaptedParameters.Prepend(k, conv.weight!.shape));
    }

    /// <summary>Grouped convolutions: the weight cotangent by autograd through this one layer.</summary>
    private static Tensor GroupedWeightCotangent(Conv2d conv, long[] padding, Tensor a, Tensor cotangent)
    {
        using var grad = enable_grad();
        Tensor weight = conv.weight!.detach().requires_grad_(true);
        Tensor y = nn.functional.conv2d(a, weight, null, conv.stride, padding, conv.dilation, conv.groups);
        var session = new AutogradSession();
        long k = cotangent.shape[0];
        var parts = new Tensor[k];
        for (long j = 0; j < k; j++)
            parts[j] = session.Grad(new[] { y }, new[] { weight }, new[] { cotangent[j] }, retainGraph: j < k - 1)[0];
        return stack(parts).detach();
    }
}
