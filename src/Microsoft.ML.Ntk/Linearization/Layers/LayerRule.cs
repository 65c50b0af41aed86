using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Layers;

/// <summary>
/// Everything the library knows about one kind of layer, in one place: whether it can differentiate a given module, the
/// forward-mode tangent rule (activation a and tangent ȧ to output y and tangent ẏ), and, for layers that hold
/// parameters, each input's own parameter gradient and a cheap bound of its squared norm, both from the layer's input a
/// and the back-propagated signal δ = ∂f_c/∂y of one output c. Inputs do not interact in evaluation mode, so one
/// backward pass over a batch yields every input's own δ. A new kind of layer is one subclass and a line in
/// <see cref="LayerRules"/>.
/// </summary>
internal abstract class LayerRule
{
    /// <summary>Whether this rule is the one for <paramref name="module"/>.</summary>
    public abstract bool Handles(nn.Module module);

    /// <summary>Why this module cannot be handled although its type is (an unsupported setting), or null.</summary>
    public virtual string? Unsupported(nn.Module module) => null;

    /// <summary>The first module below <paramref name="module"/> (by path) that no rule handles, or null.</summary>
    public virtual string? FirstUnknown(nn.Module module, string path) =>
        Unsupported(module) is { } reason ? $"{path} ({reason})" : null;

    /// <summary>(y, ẏ) from (a, ȧ); tangents carry k directions in a leading dimension, and a null tangent means zero.</summary>
    public abstract (Tensor Output, Tensor? Tangent) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context);

    /// <summary>
    /// What <see cref="PerExampleGradients"/> needs of the layer's input a, the same for every output: formed once per batch
    /// and layer, and reused by the C backward passes (a convolution's unfolded patches, a batch norm's normalized input,
    /// each only when its weight is adapted). The input itself by default.
    /// </summary>
    public virtual Tensor ExampleInput(nn.Module module, Tensor a, Func<Tensor?, bool> adapted) => a;

    /// <summary>
    /// Each input's gradient of one output with respect to the layer's adapted parameters, [B, *shape] per parameter, from
    /// the layer's <see cref="ExampleInput"/> u [B, ...] and the signal δ [B, ...] at its output.
    /// </summary>
    public virtual IEnumerable<(Tensor Parameter, Tensor Gradient)> PerExampleGradients(nn.Module module, Tensor u, Tensor delta,
                                                                                       Func<Tensor?, bool> adapted) =>
        Array.Empty<(Tensor, Tensor)>();

    /// <summary>
    /// This layer's part of the kernel in factored form, when it has one: k_c(x_n, x_m) = Σ_{s,t} (δ_{n,s} · δ_{m,t})
    /// (u_{n,s} · u_{m,t} + bias) over the layer's positions s, t, with the factors u [B, L, in] (null when only the bias is
    /// adapted) and δ [B, L, out] from the layer's input and signal (<see cref="FactoredLayerKernel"/>). That costs
    /// N²L²(in + out) for all pairs instead of N² × in × out through explicit gradients, which pays for vectors (L = 1) and
    /// for convolutions with few output pixels. Null (the default) when the layer has no such form; its part then comes
    /// from <see cref="PerExampleGradients"/>.
    /// </summary>
    public virtual KernelFactors? FactoredKernel(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted) => null;

    /// <summary>An upper bound of each input's squared gradient norm over the layer's adapted parameters, [B] in float64.</summary>
    public virtual Tensor SquaredNormBound(nn.Module module, Tensor a, Tensor delta, Func<Tensor?, bool> adapted)
    {
        Tensor total = zeros(a.shape[0], dtype: ScalarType.Float64, device: a.device);
        foreach (var (_, gradient) in PerExampleGradients(module, ExampleInput(module, a, adapted), delta, adapted))
            total.Accumulate(gradient.to(ScalarType.Float64).flatten(1).Squared().sum(1));
        return total;
    }
}

/// <summary>
/// A layer's kernel part as factors over its L positions: k(x_n, x_m) = Σ_{s,t} (Signals_{n,s} · Signals_{m,t})
/// (Inputs_{n,s} · Inputs_{m,t} + (Bias ? 1 : 0)), Inputs [B, L, in] null when the weight is not adapted, Signals [B, L, out];
/// with Expand, Inputs holds what forms them (a convolution's input) and Expand(rows) forms them.
/// </summary>
internal sealed record KernelFactors(Tensor? Inputs, Tensor Signals, bool Bias, Func<Tensor, Tensor>? Expand = null);
