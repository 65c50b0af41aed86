using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Which parameters θ of the network are adapted; the others stay frozen at their pretrained values. Parameters are
/// grouped by the layer (module) that owns them, named by the parameter name up to its last dot, in the network's order:
/// in an MLP <c>nn.Sequential(Linear, ReLU, Linear)</c> the layers are "0" and "2".
/// </summary>
public abstract class ParameterSelection
{
    private protected ParameterSelection() { }

    /// <summary>Every parameter of the network (the default).</summary>
    public static ParameterSelection All { get; } = new AllParameters();

    /// <summary>The parameters of the last <paramref name="count"/> layers that own parameters (e.g. 1: the output layer).</summary>
    public static ParameterSelection LastLayers(int count) =>
        count > 0 ? new LastLayersSelection(count)
                  : throw new ArgumentOutOfRangeException(nameof(count), count, "The number of adapted layers must be positive.");

    /// <summary>The parameters whose names start with one of the prefixes (e.g. "layer4.", "fc.").</summary>
    public static ParameterSelection NamePrefixes(params string[] prefixes) =>
        prefixes is { Length: > 0 } && prefixes.All(p => !string.IsNullOrEmpty(p))
            ? new PrefixSelection((string[])prefixes.Clone())
            : throw new ArgumentException("Give at least one parameter name prefix, none of them empty.", nameof(prefixes));

    /// <summary>The selected parameters in the network's order; throws when nothing is selected.</summary>
    internal IReadOnlyList<(string Name, Tensor Parameter)> Resolve(nn.Module module)
    {
        var all = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        if (all.Count == 0) throw new ArgumentException("The network has no parameters to adapt.");
        var chosen = Choose(all);
        if (chosen.Count == 0)
            throw new ArgumentException($"The parameter selection {this} matches none of the network's parameters: " +
                                        string.Join(", ", all.Select(p => p.Item1)));
        return chosen;
    }

    private protected abstract List<(string Name, Tensor Parameter)> Choose(List<(string Name, Tensor Parameter)> all);

    /// <summary>Writes the selection (for saved models).</summary>
    internal abstract void Write(BinaryWriter writer);

    /// <summary>Reads a selection written by <see cref="Write"/>.</summary>
    internal static ParameterSelection Read(BinaryReader reader) => reader.ReadByte() switch
    {
        0 => All,
        1 => LastLayers(reader.ReadInt32()),
        2 => NamePrefixes(Enumerable.Range(0, reader.ReadInt32()).Select(_ => reader.ReadString()).ToArray()),
        var kind => throw new InvalidDataException($"The saved parameter selection has an unknown kind ({kind})."),
    };

    internal static string OwnerOf(string parameterName)
    {
        int dot = parameterName.LastIndexOf('.');
        return dot < 0 ? "" : parameterName[..dot];
    }

    private sealed class AllParameters : ParameterSelection
    {
        private protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all) => all;
        internal override void Write(BinaryWriter writer) => writer.Write((byte)0);
        public override string ToString() => "all parameters";
    }

    private sealed class LastLayersSelection(int count) : ParameterSelection
    {
        private protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all)
        {
            var owners = all.Select(p => OwnerOf(p.Item1)).Distinct().ToList();
            if (count > owners.Count)
                throw new ArgumentOutOfRangeException(nameof(count), count,
                    $"The network has only {owners.Count} layers with parameters ({string.Join(", ", owners)}).");
            var last = owners.Skip(owners.Count - count).ToHashSet();
            return all.Where(p => last.Contains(OwnerOf(p.Item1))).ToList();
        }

        internal override void Write(BinaryWriter writer)
        {
            writer.Write((byte)1);
            writer.Write(count);
        }

        public override string ToString() => $"the last {count} layers";
    }

    private sealed class PrefixSelection(string[] prefixes) : ParameterSelection
    {
        private protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all) =>
            all.Where(p => prefixes.Any(prefix => p.Item1.StartsWith(prefix, StringComparison.Ordinal))).ToList();

        internal override void Write(BinaryWriter writer)
        {
            writer.Write((byte)2);
            writer.Write(prefixes.Length);
            foreach (string prefix in prefixes) writer.Write(prefix);
        }

        public override string ToString() => "name prefixes " + string.Join(", ", prefixes.Select(p => $"'{p}'"));
    }
}
