using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// The primal values (activations, derivative slopes, pooling choices) of one batch, recorded on the first pass and
/// replayed by later passes over the same inputs, so that forward-mode passes only compute tangents. The recording
/// pass also keeps the network's output with its autograd graph, so that reverse products need only a backward pass.
/// The graph's saved tensors share storage with the recorded values, so <see cref="Bytes"/> counts both, roughly.
/// </summary>
internal sealed class PrimalTape : IDisposable
{
    private readonly List<Tensor> entries = new();
    private int position;

    public bool Replaying { get; private set; }

    /// <summary>Bytes held by the recorded values.</summary>
    public long Bytes { get; private set; }

    /// <summary>The batch's outputs with their autograd graph, kept by the recording pass; null when none was built.</summary>
    public Tensor? GraphOutput { get; private set; }

    /// <summary>The session that guards every backward pass through <see cref="GraphOutput"/>.</summary>
    public AutogradSession GraphSession { get; } = new();

    public Tensor Next()
    {
        if (position >= entries.Count) throw new InvalidOperationException("The primal tape ran out: the network changed between passes.");
        return entries[position++];
    }

    public void Record(Tensor value)
    {
        Tensor kept = value.detach();
        kept.DetachFromDisposeScope();
        entries.Add(kept);
        Bytes += kept.numel() * kept.ElementSize;
    }

    /// <summary>Keeps the recording pass's output with its graph (when it has one).</summary>
    public void KeepGraph(Tensor output)
    {
        if (Replaying || !output.requires_grad) return;
        output.DetachFromDisposeScope();
        GraphOutput = output;
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
        GraphOutput?.Dispose();
        GraphOutput = null;
    }
}
