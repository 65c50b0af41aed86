using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.Sinusoid;

/// <summary>
/// M copies of a tanh MLP (nn.Sequential of Linear and Tanh, as <see cref="NetworkArchitecture.Mlp"/> builds it) held as stacked
/// weights: layer l is W_l [M, in, out] and b_l [M, 1, out], evaluated with torch.bmm on inputs [M, N, in]. Each copy starts from
/// the pretrained weights; the layers named in a prefix list are trained, the others stay frozen.
/// </summary>
public sealed class StackedMlp
{
    private readonly Tensor[] weights, biases;
    private readonly bool[] trained;

    private StackedMlp(Tensor[] weights, Tensor[] biases, bool[] trained) => (this.weights, this.biases, this.trained) = (weights, biases, trained);

    /// <summary>How many copies are stacked.</summary>
    public long Count => weights[0].shape[0];

    /// <summary>
    /// <paramref name="count"/> copies of a pretrained MLP; <paramref name="onlyPrefix"/> names the trained layers as <see cref="Training"/>
    /// does ("4." the output layer, "2.,4." the last hidden and the output layer), null all of them.
    /// </summary>
    public static StackedMlp Copies(nn.Module<Tensor, Tensor> pretrained, long count, string? onlyPrefix)
    {
        string[]? prefixes = onlyPrefix?.Split(',');
        var layers = pretrained.named_parameters().Where(p => p.name.EndsWith(".weight", StringComparison.Ordinal)).Select(p => p.name[..^".weight".Length]).ToArray();
        var parameters = pretrained.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach());
        bool[] trained = layers.Select(l => prefixes is null || prefixes.Any(p => (l + ".").StartsWith(p, StringComparison.Ordinal))).ToArray();
        Tensor[] w = layers.Select(l => parameters[l + ".weight"].t().unsqueeze(0).repeat(count, 1, 1)).ToArray();
        Tensor[] b = layers.Select(l => parameters[l + ".bias"].reshape(1, 1, -1).repeat(count, 1, 1)).ToArray();
        for (int l = 0; l < layers.Length; l++)
        {
            w[l].requires_grad = trained[l];
            b[l].requires_grad = trained[l];
        }
        return new StackedMlp(w, b, trained);
    }

    /// <summary>The trained tensors, in a fixed order (the optimizer's state follows it).</summary>
    public Tensor[] Trained => Enumerable.Range(0, weights.Length).Where(l => trained[l]).SelectMany(l => new[] { weights[l], biases[l] }).ToArray();

    /// <summary>Outputs [M, N, out] for inputs [N, in] (the same for every copy) or [M, N, in].</summary>
    public Tensor Forward(Tensor inputs)
    {
        Tensor h = inputs.dim() == 2 ? inputs.unsqueeze(0).expand(Count, -1, -1) : inputs;
        for (int l = 0; l < weights.Length; l++)
        {
            h = h.bmm(weights[l]).add(biases[l], HeldScalars.One);
            if (l < weights.Length - 1) h = h.tanh();
        }
        return h;
    }

    /// <summary>Every weight and bias tensor (to move them out of a dispose scope).</summary>
    public Tensor[] Tensors => weights.Concat(biases).ToArray();

    /// <summary>A detached copy of the current weights of the copies listed (for checkpoints).</summary>
    public StackedMlp Snapshot(long[] copies)
    {
        using var noGrad = no_grad();
        var index = tensor(copies);
        return new StackedMlp(weights.Select(w => w.index_select(0, index).clone()).ToArray(), biases.Select(b => b.index_select(0, index).clone()).ToArray(),
                              new bool[weights.Length]);
    }
}
