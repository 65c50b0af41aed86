using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>Pooling layers: linear in their input (max pooling once its choice of maxima is fixed).</summary>
internal static class PoolingTangents
{
    public static (Tensor, Tensor?) MaxPool(MaxPool2d pool, Tensor a, Tensor? aDot, PropagationContext context)
    {
        Tensor? indices = null;
        Tensor y = context.Primal(() =>
        {
            (Tensor values, indices) = nn.functional.max_pool2d_with_indices(a, pool.kernel_size, pool.stride ?? pool.kernel_size,
                                                                             pool.padding, pool.dilation, pool.ceil_mode);
            return values;
        });
        Tensor where = context.Primal(() => indices!);
        long[] inputShape = a.shape;

        Tensor? yDot = null;
        if (aDot is not null)
        {
            long k = aDot.shape[0];
            Tensor source = aDot.flatten(-2);                                                   // [k, B, C, H·W]
            yDot = source.gather(-1, where.flatten(-2).unsqueeze(0).expand(k, -1, -1, -1)).reshape(AdaptedParameters.Prepend(k, y.shape));
        }
        context.AddReverseStep(cotangent =>
        {
            long k = cotangent.shape[0];
            Tensor target = zeros(k, inputShape[0], inputShape[1], inputShape[2] * inputShape[3], dtype: cotangent.dtype, device: cotangent.device);
            Tensor index = where.flatten(-2).unsqueeze(0).expand(k, -1, -1, -1);
            return target.scatter_add(-1, index, cotangent.flatten(-2)).reshape(AdaptedParameters.Prepend(k, inputShape));
        });
        return (y, yDot);
    }

    /// <summary>Average pooling: the same map applies to tangents; its transpose comes from autograd through the pool alone.</summary>
    public static (Tensor, Tensor?) LinearPool(nn.Module<Tensor, Tensor> pool, Tensor a, Tensor? aDot, PropagationContext context)
    {
        Tensor y = context.Primal(() => pool.call(a));
        Tensor? yDot = aDot is null ? null : pool.call(aDot.flatten(0, 1)).unflatten(0, new[] { aDot.shape[0], aDot.shape[1] });
        long[] inputShape = a.shape;
        context.AddReverseStep(cotangent =>
        {
            using var grad = enable_grad();
            long k = cotangent.shape[0];
            Tensor probe = zeros(AdaptedParameters.Prepend(k * inputShape[0], inputShape[1..]), dtype: cotangent.dtype, device: cotangent.device)
                .requires_grad_(true);
            Tensor output = pool.call(probe);
            Tensor result = new AutogradSession().Grad(new[] { output }, new[] { probe }, new[] { cotangent.flatten(0, 1) }, retainGraph: false)[0];
            return result.detach().unflatten(0, new[] { k, inputShape[0] });
        });
        return (y, yDot);
    }
}
