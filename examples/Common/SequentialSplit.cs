using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// A Sequential network cut before its first trained child: the frozen front (evaluated once on the images, batch norm in evaluation
/// mode) and the trained rest. Both share the children of the network, so training the rest trains the network itself; retraining
/// the last layer on the cached penultimate features is the same computation as on the images, without the convolutions.
/// </summary>
public sealed class SequentialSplit
{
    private readonly nn.Module<Tensor, Tensor>? front;

    private SequentialSplit(nn.Module<Tensor, Tensor>? front, nn.Module<Tensor, Tensor> rest, string? restPrefix) =>
        (this.front, Rest, RestPrefix) = (front, rest, restPrefix);

    /// <summary>The children from the first trained one on.</summary>
    public nn.Module<Tensor, Tensor> Rest { get; }

    /// <summary>The trained prefixes renamed as the rest names its children ("10." becomes "0." when the front holds ten), or null for all.</summary>
    public string? RestPrefix { get; }

    /// <summary>
    /// Cuts <paramref name="network"/> before the first child named in <paramref name="onlyPrefix"/> (child indices followed by dots,
    /// comma-separated, as <see cref="Training"/> takes them); null trains every child and freezes none.
    /// </summary>
    public static SequentialSplit Cut(nn.Module<Tensor, Tensor> network, string? onlyPrefix)
    {
        var children = network.children().Cast<nn.Module<Tensor, Tensor>>().ToArray();
        int[]? trained = onlyPrefix?.Split(',').Select(p => int.Parse(p.TrimEnd('.'), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        int start = trained?.Min() ?? 0;
        string? restPrefix = trained is null ? null : string.Join(",", trained.Select(i => $"{i - start}."));
        var front = start == 0 ? null : nn.Sequential(children.Take(start).ToArray());
        var rest = nn.Sequential(children.Skip(start).ToArray());
        front?.eval();
        rest.eval();
        return new SequentialSplit(front, rest, restPrefix);
    }

    /// <summary>What the rest sees of inputs: the frozen front's outputs, without gradients (the inputs themselves when nothing is frozen).</summary>
    public Tensor Prepare(Tensor inputs) => front is null ? inputs : Training.Predict(front, inputs);

    /// <summary>The network without its last child: the features its head sees.</summary>
    public static nn.Module<Tensor, Tensor> Penultimate(nn.Module<Tensor, Tensor> network)
    {
        var children = network.children().Cast<nn.Module<Tensor, Tensor>>().ToArray();
        var trunk = nn.Sequential(children.Take(children.Length - 1).ToArray());
        trunk.eval();
        return trunk;
    }
}
