using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// Decodes each saved model state once. ML.NET hands the state to every row as the same ReadOnlyMemory over one string
/// (or array); the decoded predictor is cached against that object, so it lives exactly as long as the model holding it.
/// </summary>
internal static class PredictorCache
{
    private static readonly ConditionalWeakTable<object, ConcurrentDictionary<(int Start, int Length), Lazy<NtkPredictor>>> Decoded = new();

    public static NtkPredictor Get(ReadOnlyMemory<char> state)
    {
        object? owner = null;
        int start = 0, length = state.Length;
        if (MemoryMarshal.TryGetString(state, out string? text, out start, out length)) owner = text;
        else if (MemoryMarshal.TryGetArray(state, out ArraySegment<char> segment)) (owner, start, length) = (segment.Array, segment.Offset, segment.Count);
        if (owner is null) return NtkModelState.Decode(state.Span);   // not seen with ML.NET 5; correct, only slower
        var byRange = Decoded.GetValue(owner, _ => new());
        var key = (start, length);
        var lazy = byRange.GetOrAdd(key, _ => new Lazy<NtkPredictor>(() => NtkModelState.Decode(state.Span)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            byRange.TryRemove(new KeyValuePair<(int, int), Lazy<NtkPredictor>>(key, lazy));   // e.g. a factory registered later: try again then
            throw;
        }
    }
}
