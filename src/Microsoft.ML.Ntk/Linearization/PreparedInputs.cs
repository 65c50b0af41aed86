using Microsoft.ML.Ntk.Linearization.Tangents;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Inputs X made ready for repeated Jacobian products. When the network has a frozen trunk, its outputs for X are
/// computed once and kept here; otherwise X itself. When the products run through known layers, each batch's primal
/// values are also kept (on a tape) after its first pass, within a memory budget, so that later passes skip them.
/// Owns its tensors.
/// </summary>
internal sealed class PreparedInputs : IDisposable
{
    private readonly Dictionary<long, PrimalTape> tapes = new();
    private readonly long tapeBudgetBytes;
    private long tapeBytes;
    private bool budgetExhausted;

    internal PreparedInputs(object owner, Tensor headInputs, long count, long tapeBudgetBytes)
    {
        Owner = owner;
        HeadInputs = headInputs;
        Count = count;
        this.tapeBudgetBytes = tapeBudgetBytes;
    }

    /// <summary>The linearization that prepared these inputs; only it may use them.</summary>
    public object Owner { get; }

    /// <summary>What the adapted part of the network receives: X, or the trunk's outputs for X.</summary>
    public Tensor HeadInputs { get; }

    /// <summary>N, the number of inputs.</summary>
    public long Count { get; }

    /// <summary>Bytes held by the primal tapes.</summary>
    public long TapeBytes => tapeBytes;

    public Tensor Batch(long start, long length) => HeadInputs.narrow(0, start, length);

    /// <summary>Whether the layer-summed kernel of these inputs fits (<see cref="LinearizedNetwork.LayerKernelFits"/>), once found.</summary>
    internal bool? LayerKernelFits { get; set; }

    /// <summary>
    /// The same inputs without tapes, recorded or replayed: every product on it takes the same single-pass route, so
    /// its results do not depend on what ran before (a replayed tape rounds differently from a first pass).
    /// </summary>
    public PreparedInputs WithoutTapes() => new(Owner, HeadInputs.alias(), Count, tapeBudgetBytes: 0);

    /// <summary>
    /// The tape of the batch that starts at <paramref name="start"/>: a replaying tape when one was kept, a recording
    /// one while the budget allows, or null.
    /// </summary>
    public PrimalTape? TapeFor(long start)
    {
        if (tapes.TryGetValue(start, out var tape)) return tape;
        return budgetExhausted || tapeBudgetBytes <= 0 ? null : new PrimalTape();
    }

    /// <summary>Keeps a tape that just finished recording, if it fits the budget; disposes it otherwise.</summary>
    public void Keep(long start, PrimalTape? tape)
    {
        if (tape is null || tapes.ContainsKey(start)) return;
        if (tapeBytes + tape.Bytes > tapeBudgetBytes)
        {
            budgetExhausted = true;
            tape.Dispose();
            return;
        }
        tapes[start] = tape;
        tapeBytes += tape.Bytes;
    }

    public void Dispose()
    {
        foreach (var tape in tapes.Values) tape.Dispose();
        tapes.Clear();
        tapeBytes = 0;
        HeadInputs.Dispose();
    }
}
