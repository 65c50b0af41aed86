using System.Globalization;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// Which network output each class of the label is. The label's classes come in key order (what MapValueToKey made:
/// by first occurrence unless told otherwise); the network's outputs in the order it was trained with. Given the
/// network's class names in output order, each key value is matched to the output of the same name. Without them, output
/// i is key i + 1, and a label whose key values are the integers 0 … K−1 (or 1 … K) in another order is refused: that
/// is a network trained on numbered classes fed a label numbered by arrival, which would silently swap classes.
/// </summary>
internal static class ClassOrder
{
    /// <summary>The output of each key (index k for key k + 1).</summary>
    public static int[] Resolve(string[] keyValues, string[]? outputClassNames, string labelColumn)
    {
        if (outputClassNames is null) return ByPosition(keyValues, labelColumn);
        if (outputClassNames.Distinct(StringComparer.Ordinal).Count() != outputClassNames.Length)
            throw new ArgumentException($"OutputClassNames lists a class twice: {List(outputClassNames)}.", nameof(outputClassNames));
        var missing = keyValues.Where(k => Array.IndexOf(outputClassNames, k) < 0).ToArray();
        if (missing.Length > 0 || keyValues.Length != outputClassNames.Length)
            throw new ArgumentException($"The label '{labelColumn}' has the classes {List(keyValues)} (in key order), which do not match the network's " +
                                        $"OutputClassNames {List(outputClassNames)}" +
                                        (missing.Length > 0 ? $": {List(missing)} {(missing.Length == 1 ? "is" : "are")} not among them." : "."),
                                        nameof(outputClassNames));
        return keyValues.Select(k => Array.IndexOf(outputClassNames, k)).ToArray();
    }

    private static int[] ByPosition(string[] keyValues, string labelColumn)
    {
        var numbers = keyValues.Select(k => long.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : (long?)null).ToArray();
        if (numbers.All(n => n.HasValue))
        {
            long first = numbers.Min()!.Value;
            bool numbered = first is 0 or 1 && numbers.Select(n => n!.Value - first).OrderBy(n => n).SequenceEqual(Enumerable.Range(0, numbers.Length).Select(i => (long)i));
            bool inOrder = numbers.Select((n, i) => n!.Value - first == i).All(x => x);
            if (numbered && !inOrder)
                throw new ArgumentException(
                    $"The label '{labelColumn}' numbers its classes {List(keyValues)} in key order, so network output 0 would be taken as class " +
                    $"'{keyValues[0]}', output 1 as '{keyValues[1]}', and so on; a network trained on numbered classes expects {List(keyValues.OrderBy(k => numbers[Array.IndexOf(keyValues, k)]).ToArray())}. " +
                    "Map the label with MapValueToKey(..., keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue) for one-digit classes, " +
                    "or give the network's class names in output order in OutputClassNames.");
        }
        return Enumerable.Range(0, keyValues.Length).ToArray();
    }

    private static string List(IEnumerable<string> names) => "[" + string.Join(", ", names.Select(n => $"'{n}'")) + "]";
}
