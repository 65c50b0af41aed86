using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.Ntk.Inference;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// Decodes each saved model state once. ML.NET hands the state to every row as the same ReadOnlyMemory over one string
/// (or array); the decoded predictor is cached against that object, so it lives exactly as long as the model holding it.
/// </summary>
internal static class PredictorCache
{
    private static readonly ConditionalWeakTable<object, ConcurrentDictionary<(int Start, int Length), Lazy<NtkPredictor>>> Decoded = new();

    /// <summary>
    /// Registers the state a fit has just encoded, so that its first use decodes it as a loaded model would and then takes
    /// over what the fit's posterior (<paramref name="fitted"/>) already prepared for predictions, such as the training
    /// Jacobian by output (<see cref="NtkPredictor.AdoptPrepared"/>): the first prediction after a fit does not form it again.
    /// Predictions are those of the decoded model. The fit's posterior is held until then (or while the state lives, if it is
    /// never used), and only its prepared tensors after.
    /// </summary>
    public static void Seed(string state, IPosteriorVariance fitted)
    {
        IPosteriorVariance? held = fitted;
        Decoded.GetValue(state, _ => new()).TryAdd((0, state.Length), new Lazy<NtkPredictor>(() =>
        {
            var predictor = NtkModelState.Decode(state);
            if (held is not null) predictor.AdoptPrepared(held);
            held = null;
            return predictor;
        }));
    }

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
