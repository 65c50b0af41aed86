using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Which parameters θ of the network are adapted; the others stay frozen at their pretrained values.
/// Parameters are grouped by the module that owns them (the name up to its last dot), in the network's order.
/// </summary>
internal abstract class ParameterSelection
{
    public static ParameterSelection All { get; } = new AllParameters();

    /// <summary>The parameters of the last <paramref name="count"/> modules that own parameters.</summary>
    public static ParameterSelection LastModules(int count) =>
        count > 0 ? new LastModulesSelection(count)
                  : throw new ArgumentOutOfRangeException(nameof(count), count, "The number of adapted modules must be positive.");

    /// <summary>The parameters whose names start with one of the prefixes (e.g. "layer4.", "fc.").</summary>
    public static ParameterSelection NamePrefixes(params string[] prefixes) =>
        prefixes is { Length: > 0 } ? new PrefixSelection(prefixes)
                                    : throw new ArgumentException("Give at least one parameter name prefix.", nameof(prefixes));

    /// <summary>The selected parameters in the network's order; throws when nothing is selected.</summary>
    public IReadOnlyList<(string Name, Tensor Parameter)> Resolve(nn.Module module)
    {
        var all = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        if (all.Count == 0) throw new ArgumentException("The network has no parameters to adapt.");
        var chosen = Choose(all);
        if (chosen.Count == 0)
            throw new ArgumentException($"The parameter selection {this} matches none of the network's parameters: " +
                                        string.Join(", ", all.Select(p => p.Item1)));
        return chosen;
    }

    protected abstract List<(string Name, Tensor Parameter)> Choose(List<(string Name, Tensor Parameter)> all);

    internal static string OwnerOf(string parameterName)
    {
        int dot = parameterName.LastIndexOf('.');
        return dot < 0 ? "" : parameterName[..dot];
    }

    private sealed class AllParameters : ParameterSelection
    {
        protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all) => all;
        public override string ToString() => "all parameters";
    }

    private sealed class LastModulesSelection(int count) : ParameterSelection
    {
        protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all)
        {
            var owners = all.Select(p => OwnerOf(p.Item1)).Distinct().ToList();
            if (count > owners.Count)
                throw new ArgumentOutOfRangeException(nameof(count), count,
                    $"The network has only {owners.Count} modules with parameters ({string.Join(", ", owners)}).");
            var last = owners.Skip(owners.Count - count).ToHashSet();
            return all.Where(p => last.Contains(OwnerOf(p.Item1))).ToList();
        }
        public override string ToString() => $"the last {count} modules";
    }

    private sealed class PrefixSelection(string[] prefixes) : ParameterSelection
    {
        protected override List<(string, Tensor)> Choose(List<(string, Tensor)> all) =>
            all.Where(p => prefixes.Any(prefix => p.Item1.StartsWith(prefix, StringComparison.Ordinal))).ToList();
        public override string ToString() => "name prefixes " + string.Join(", ", prefixes.Select(p => $"'{p}'"));
    }
}
