using Microsoft.ML.Ntk.Linearization.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>When a layer whose rule has a factored kernel uses it rather than its explicit per-example gradients.</summary>
internal enum Factoring
{
    /// <summary>Where it takes fewer operations or the gradients would not fit (<see cref="FactoredLayerKernel.Pays"/>).</summary>
    WhenItPays,

    /// <summary>Wherever the rule has the form (for tests of the factored parts).</summary>
    Always,
}

/// <summary>
/// The explicit kernel of a network of known layers, summed layer by layer from one forward and C backward passes per batch
/// (<see cref="LayerSignals"/>): a layer whose rule has a factored kernel adds its part from its inputs and signals
/// (<see cref="FactoredLayerKernel"/>) where that pays, a fully connected layer always, a convolution with few output pixels
/// and many channels (a ResNet's last stage) too; the others add G Gᵀ from their per-example gradients.
/// </summary>
internal static class LayerKernel
{
    /// <summary>
    /// The C diagonal blocks K_c(X, X) as [C, N, N] in float64, or null when a module or parameter occurs twice in the
    /// network (the layer sums would miss the cross terms between its uses: the caller forms J instead).
    /// </summary>
    public static Tensor? Blocks(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, Factoring factoring = Factoring.WhenItPays)
    {
        using var scope = NewDisposeScope();
        if (Collect(head, x, outputs, batchSize, outputPairs: outputs, factoring) is not { } parts) return null;
        Tensor blocks = parts.Explicit.matmul(parts.Explicit.transpose(1, 2));             // [C, N, N]
        foreach (var layer in parts.Factored) FactoredLayerKernel.AddBlocks(blocks, layer, layer);
        return scope.MoveToOuter(blocks);
    }

    /// <summary>K(X, X) as [N·C, N·C] in float64, row n·C + c; null as for <see cref="Blocks"/>.</summary>
    public static Tensor? Full(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, Factoring factoring = Factoring.WhenItPays)
    {
        using var scope = NewDisposeScope();
        if (Collect(head, x, outputs, batchSize, outputPairs: (long)outputs * outputs, factoring) is not { } parts) return null;
        Tensor rows = parts.Explicit.transpose(0, 1).flatten(0, 1);                       // [N·C, P_explicit], row n·C + c
        Tensor kernel = rows.mm(rows.t());
        foreach (var layer in parts.Factored) FactoredLayerKernel.AddFull(kernel, layer, layer);
        return scope.MoveToOuter(kernel);
    }

    /// <summary>The factored layers over all inputs, and the other layers' per-example gradients [C, N, P_explicit] in float64.</summary>
    private sealed record Parts(List<FactoredLayerKernel.Factors> Factored, Tensor Explicit);

    private static Parts? Collect(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, long outputPairs, Factoring factoring)
    {
        var detached = new List<Tensor>();                                                    // freed here if anything throws
        try
        {
            return CollectInto(head, x, outputs, batchSize, outputPairs, factoring, detached);
        }
        catch
        {
            foreach (var t in detached) t.Dispose();
            throw;
        }
    }

    private static Parts? CollectInto(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, long outputPairs,
                                      Factoring factoring, List<Tensor> detached)
    {
        bool shared = false;
        bool[] factorsOf = Array.Empty<bool>();                                               // per recorded layer, decided at the first pass
        var adapted = LayerSignals.IsAdapted(head.Parameters);
        var factoredInputs = new List<List<Tensor?>>();                                       // [factored layer][batch]
        var factoredSignals = new List<List<Tensor>[]>();                                     // [factored layer][output][batch]
        var bias = new List<bool>();
        var explicitRows = Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray();   // [output][batch]
        foreach (var (start, length) in DataBatches.Of(x.Count, batchSize))
        {
            LayerSignals.ForEachOutput(head, x.Batch(start, length), (c, layers, signals) =>
            {
                if (c == 0 && start == 0)
                {
                    shared = SharesParameters(layers);
                    factorsOf = layers.Select((layer, i) => UsesFactors(layer, signals[i], adapted, x.Count, outputs, outputPairs, factoring)).ToArray();
                }
                if (shared) return;
                int factored = 0;
                var gradients = new List<Tensor>();
                for (int i = 0; i < layers.Count; i++)
                {
                    var layer = layers[i];
                    if (factorsOf[i])
                    {
                        var factors = layer.Rule.FactoredKernel(layer.Module, layer.Input, signals[i], adapted)!;
                        if (factoredInputs.Count == factored)
                        {
                            factoredInputs.Add(new List<Tensor?>());
                            factoredSignals.Add(Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray());
                            bias.Add(factors.Bias);
                        }
                        if (c == 0) factoredInputs[factored].Add(Keep(factors.Inputs?.contiguous(), detached));
                        factoredSignals[factored][c].Add(Keep(factors.Signals.contiguous(), detached)!);
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
        var layersOut = factoredInputs.Select((inputs, i) => new FactoredLayerKernel.Factors(
            inputs[0] is null ? null : Concatenate(inputs.Select(t => t!).ToList()), stack(factoredSignals[i].Select(Concatenate).ToArray()), bias[i])).ToList();
        return new Parts(layersOut, stack(explicitRows.Select(Concatenate).ToArray()));
    }

    /// <summary>Whether a recorded layer contributes by its factors (see <see cref="Factoring"/>), judged from its first batch.</summary>
    private static bool UsesFactors(RecordedLayer layer, Tensor signal, Func<Tensor?, bool> adapted, long count, long outputs, long outputPairs,
                                    Factoring factoring)
    {
        using var scope = NewDisposeScope();
        if (layer.Rule.FactoredKernel(layer.Module, layer.Input, signal, adapted) is not { } factors) return false;
        return factoring == Factoring.Always ||
               FactoredLayerKernel.Pays(count, outputs, outputPairs, factors.Signals.shape[1], factors.Inputs?.shape[2] ?? 0, factors.Signals.shape[2]);
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
