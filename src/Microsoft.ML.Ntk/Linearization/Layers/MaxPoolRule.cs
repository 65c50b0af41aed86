using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>Max pooling is linear once its choice of maxima is fixed: the tangent is read at the same places.</summary>
internal sealed class MaxPoolRule : LayerRule
{
    public override bool Handles(nn.Module module) => module is MaxPool2d;

    public override (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context)
    {
        var pool = (MaxPool2d)module;
        Tensor? indices = null;
        Tensor y = context.Primal(() =>
        {
            (Tensor values, indices) = nn.functional.max_pool2d_with_indices(a, pool.kernel_size, pool.stride ?? pool.kernel_size,
                                                                             pool.padding, pool.dilation, pool.ceil_mode);
            return values;
        });
        Tensor where = context.Primal(() => indices!, differentiable: false);
        if (aDot is null) return (y, null);
        long k = aDot.shape[0];
        Tensor source = aDot.flatten(-2);                                                       // [k, B, C, H·W]
        Tensor yDot = source.gather(-1, where.flatten(-2).unsqueeze(0).expand(k, -1, -1, -1));
        return (y, yDot.reshape(AdaptedParameters.Prepend(k, y.shape)));
    }
}
