using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// When the network is a Sequential and every adapted parameter lies in a suffix of its children, the
/// prefix (the trunk) is frozen: its outputs never change, so they are computed once per input and the
/// Jacobian products run on the suffix (the head) alone.
/// </summary>
internal static class FrozenTrunk
{
    /// <summary>Splits the network into (trunk or null, head); the head holds every adapted parameter.</summary>
    public static (nn.Module<Tensor, Tensor>? Trunk, nn.Module Head) Split(nn.Module network, IReadOnlyCollection<Tensor> adapted)
    {
        if (network is not TorchSharp.Modules.Sequential sequential) return (null, network);
        var children = sequential.named_children().ToList();
        var adaptedHandles = adapted.Select(t => t.Handle).ToHashSet();
        int first = children.FindIndex(c => c.module.parameters().Any(p => adaptedHandles.Contains(p.Handle)));
        if (first <= 0) return (null, network);
        return (Compose(children.Take(first)), Compose(children.Skip(first)));
    }

    private static nn.Module<Tensor, Tensor> Compose(IEnumerable<(string name, nn.Module module)> children)
    {
        var list = children.Select(c => (c.name, (nn.Module<Tensor, Tensor>)c.module)).ToArray();
        var composed = nn.Sequential(list);
        composed.eval();
        return composed;
    }
}
