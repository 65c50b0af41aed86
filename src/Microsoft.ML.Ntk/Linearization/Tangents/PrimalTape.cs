using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// The primal values (activations, derivative slopes, pooling choices) of one batch, recorded on the first pass and
/// replayed by later passes over the same inputs, so that those passes only compute tangents or cotangents. The
/// sequence of values a pass asks for depends only on the network and the adapted parameters, never on the mode.
/// </summary>
internal sealed class PrimalTape : IDisposable
{
    private readonly List<Tensor> entries = new();
    private int position;

    public bool Replaying { get; private set; }

    /// <summary>Bytes held by the recorded values.</summary>
    public long Bytes { get; private set; }

    public Tensor Take(Func<Tensor> compute)
    {
        if (Replaying)
        {
            if (position >= entries.Count) throw new InvalidOperationException("The primal tape ran out: the network changed between passes.");
            return entries[position++];
        }
        Tensor value = compute().detach();
        value.DetachFromDisposeScope();
        entries.Add(value);
        Bytes += value.numel() * value.ElementSize;
        return value;
    }

    /// <summary>Ends a pass: after the recording pass the tape replays from the start.</summary>
    public void EndPass()
    {
        if (Replaying && position != entries.Count) throw new InvalidOperationException("The primal tape was not used up: the network changed between passes.");
        Replaying = true;
        position = 0;
    }

    public void Dispose()
    {
        foreach (var entry in entries) entry.Dispose();
        entries.Clear();
    }
}
