using Microsoft.ML.Ntk.Linearization.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The explicit kernel of a network of known layers, summed layer by layer from one forward and C backward passes per batch
/// (<see cref="LayerSignals"/>): a layer whose rule has a factored kernel (a fully connected layer on vectors) adds
/// (Δ Δᵀ) ∘ (A Aᵀ + bias) from its inputs and signals; the others add G Gᵀ from their per-example gradients. On a CNN
/// whose parameters sit mostly in its fully connected head, that forms J only for the convolutions.
/// </summary>
internal static class LayerKernel
{
    /// <summary>
    /// The C diagonal blocks K_c(X, X) as [C, N, N] in float64, or null when a module or parameter occurs twice in the
    /// network (the layer sums would miss the cross terms between its uses: the caller forms J instead).
    /// </summary>
    public static Tensor? Blocks(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        using var scope = NewDisposeScope();
        if (Collect(head, x, outputs, batchSize) is not { } parts) return null;
        var grams = parts.InputGrams();
        Tensor blocks = parts.Explicit.matmul(parts.Explicit.transpose(1, 2));             // [C, N, N]
        for (int c = 0; c < parts.Outputs; c++)
            for (int i = 0; i < grams.Length; i++)
            {
                using var term = NewDisposeScope();                                     // one N × N temporary at a time
                Tensor signals = parts.Factored[i].Signals[c];
                blocks[c].Accumulate(signals.mm(signals.t()).mul_(grams[i]));
            }
        return scope.MoveToOuter(blocks);
    }

    /// <summary>K(X, X) as [N·C, N·C] in float64, row n·C + c; null as for <see cref="Blocks"/>.</summary>
    public static Tensor? Full(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        using var scope = NewDisposeScope();
        if (Collect(head, x, outputs, batchSize) is not { } parts) return null;
        Tensor rows = parts.Explicit.transpose(0, 1).flatten(0, 1);                       // [N·C, P_explicit], row n·C + c
        Tensor kernel = rows.mm(rows.t());
        var grams = parts.InputGrams();
        for (int i = 0; i < grams.Length; i++)
        {
            using var term = NewDisposeScope();
            Tensor signals = parts.Factored[i].Signals.transpose(0, 1).flatten(0, 1);           // [N·C, out]
            Tensor inputs = grams[i].repeat_interleave(parts.Outputs, 0).repeat_interleave(parts.Outputs, 1);
            kernel.Accumulate(signals.mm(signals.t()).mul_(inputs));
        }
        return scope.MoveToOuter(kernel);
    }

    /// <summary>A factored layer over all inputs: A [N, in] (null: weight not adapted), Δ [C, N, out], and the bias flag.</summary>
    private sealed record FactoredLayer(Tensor? Inputs, Tensor Signals, bool Bias);

    /// <summary>The factored layers, and the other layers' per-example gradients [C, N, P_explicit], in float64.</summary>
    private sealed record Parts(int Outputs, List<FactoredLayer> Factored, Tensor Explicit)
    {
        /// <summary>A Aᵀ (+ 1 for an adapted bias) of each factored layer, formed once.</summary>
        public Tensor[] InputGrams() => Factored.Select(layer =>
        {
            long n = layer.Signals.shape[1];
            Tensor gram = layer.Inputs is null ? zeros(n, n, dtype: ScalarType.Float64, device: layer.Signals.device) : layer.Inputs.mm(layer.Inputs.t());
            return layer.Bias ? gram.AccumulateConstant(1.0) : gram;
        }).ToArray();
    }

    private static Parts? Collect(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        var detached = new List<Tensor>();                                                    // freed here if anything throws
        try
        {
            return CollectInto(head, x, outputs, batchSize, detached);
        }
        catch
        {
            foreach (var t in detached) t.Dispose();
            throw;
        }
    }

    private static Parts? CollectInto(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, List<Tensor> detached)
    {
        bool shared = false;
        var adapted = LayerSignals.IsAdapted(head.Parameters);
        var factoredInputs = new List<List<Tensor?>>();                                       // [layer][batch]
        var factoredSignals = new List<List<Tensor>[]>();                                     // [layer][output][batch]
        var bias = new List<bool>();
        var explicitRows = Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray();   // [output][batch]
        foreach (var (start, length) in DataBatches.Of(x.Count, batchSize))
        {
            LayerSignals.ForEachOutput(head, x.Batch(start, length), (c, layers, signals) =>
            {
                if (c == 0 && start == 0) shared = SharesParameters(layers);
                if (shared) return;
                int factored = 0;
                var gradients = new List<Tensor>();
                for (int i = 0; i < layers.Count; i++)
                {
                    var layer = layers[i];
                    if (layer.Rule.FactoredKernel(layer.Module, layer.Input, signals[i], adapted) is { } factors)
                    {
                        if (factoredInputs.Count == factored)
                        {
                            factoredInputs.Add(new List<Tensor?>());
                            factoredSignals.Add(Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray());
                            bias.Add(factors.Bias);
                        }
                        if (c == 0) factoredInputs[factored].Add(Keep(factors.Inputs?.to(ScalarType.Float64), detached));
                        factoredSignals[factored][c].Add(Keep(factors.Signals.to(ScalarType.Float64), detached)!);
                        factored++;
                    }
                    else
                    {
                        gradients.AddRange(layer.Rule.PerExampleGradients(layer.Module, layer.Input, signals[i], adapted)
                                                .Select(g => g.Gradient.reshape(length, -1).to(ScalarType.Float64)));
                    }
                }
                Tensor rows = gradients.Count == 0 ? zeros(length, 0, dtype: ScalarType.Float64, device: x.HeadInputs.device) : cat(gradients.ToArray(), 1);
                explicitRows[c].Add(Keep(rows, detached)!);
            }).Dispose();
            if (shared) return null;
            if (start == 0) ExplicitKernel.CheckSize(x.Count * outputs, explicitRows[0][0].shape[1]);   // the gradients still to come
        }
        var layersOut = factoredInputs.Select((inputs, i) => new FactoredLayer(inputs[0] is null ? null : Concatenate(inputs.Select(t => t!).ToList()),
                                                                               stack(factoredSignals[i].Select(Concatenate).ToArray()), bias[i])).ToList();
        return new Parts(outputs, layersOut, stack(explicitRows.Select(Concatenate).ToArray()));
    }

    /// <summary>A tensor kept beyond its pass's scope, noted so that it is freed if the collection fails.</summary>
    private static Tensor? Keep(Tensor? t, List<Tensor> detached)
    {
        if (t is null) return null;
        t.DetachFromDisposeScope();
        detached.Add(t);
        return t;
    }

    /// <summary>Whether a module is recorded twice or two recorded modules hold the same parameter.</summary>
    private static bool SharesParameters(IReadOnlyList<RecordedLayer> layers)
    {
        var handles = new HashSet<IntPtr>();
        return layers.Select(l => l.Module).Distinct().Count() != layers.Count ||
               layers.SelectMany(l => l.Module.parameters()).Any(p => !handles.Add(p.Handle));
    }

    /// <summary>The batches' parts (detached from their passes' scopes) as one tensor in the caller's scope; the parts are freed.</summary>
    private static Tensor Concatenate(IReadOnlyList<Tensor> parts)
    {
        Tensor whole = cat(parts.ToArray(), 0);
        foreach (var part in parts) part.Dispose();
        return whole;
    }
}
