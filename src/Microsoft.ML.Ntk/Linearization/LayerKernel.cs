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
    /// <summary>The C diagonal blocks K_c(X, X) as [C, N, N] in float64.</summary>
    public static Tensor Blocks(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        using var scope = NewDisposeScope();
        var parts = Collect(head, x, outputs, batchSize);
        var blocks = new Tensor[parts.Outputs];
        for (int c = 0; c < parts.Outputs; c++)
        {
            Tensor block = parts.Explicit[c].matmul(parts.Explicit[c].t());
            for (int i = 0; i < parts.Factored.Count; i++)
            {
                Tensor signals = parts.Factored[i].Signals[c];
                block.Accumulate(signals.matmul(signals.t()) * parts.InputGram(i));
            }
            blocks[c] = block;
        }
        return scope.MoveToOuter(stack(blocks));
    }

    /// <summary>K(X, X) as [N·C, N·C] in float64, row n·C + c.</summary>
    public static Tensor Full(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        using var scope = NewDisposeScope();
        var parts = Collect(head, x, outputs, batchSize);
        Tensor rows = stack(parts.Explicit, 1).flatten(0, 1);                               // [N·C, P_explicit]
        Tensor kernel = rows.matmul(rows.t());
        for (int i = 0; i < parts.Factored.Count; i++)
        {
            Tensor signals = stack(parts.Factored[i].Signals, 1).flatten(0, 1);               // [N·C, out]
            Tensor inputs = parts.InputGram(i).repeat_interleave(parts.Outputs, 0).repeat_interleave(parts.Outputs, 1);
            kernel.Accumulate(signals.matmul(signals.t()) * inputs);
        }
        return scope.MoveToOuter(kernel);
    }

    /// <summary>A factored layer over all inputs: A [N, in] (null: weight not adapted), Δ_c [N, out] per output, and the bias flag.</summary>
    private sealed record FactoredLayer(Tensor? Inputs, Tensor[] Signals, bool Bias);

    /// <summary>The factored layers, and the other layers' per-example gradients [N, P_explicit] per output, in float64.</summary>
    private sealed record Parts(int Outputs, List<FactoredLayer> Factored, Tensor[] Explicit)
    {
        /// <summary>A Aᵀ (+ 1 for an adapted bias) of factored layer i.</summary>
        public Tensor InputGram(int i)
        {
            var layer = Factored[i];
            long n = layer.Signals[0].shape[0];
            Tensor gram = layer.Inputs is null ? zeros(n, n, dtype: ScalarType.Float64, device: layer.Signals[0].device) : layer.Inputs.matmul(layer.Inputs.t());
            return layer.Bias ? gram.PlusConstant(1.0) : gram;
        }
    }

    private static Parts Collect(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        var adapted = LayerSignals.IsAdapted(head.Parameters);
        var factoredInputs = new List<List<Tensor?>>();                                       // [layer][batch]
        var factoredSignals = new List<List<Tensor>[]>();                                     // [layer][output][batch]
        var bias = new List<bool>();
        var explicitRows = Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray();   // [output][batch]
        foreach (var (start, length) in DataBatches.Of(x.Count, batchSize))
        {
            LayerSignals.ForEachOutput(head, x.Batch(start, length), (c, layers, signals) =>
            {
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
                        if (c == 0) factoredInputs[factored].Add(factors.Inputs?.to(ScalarType.Float64).DetachFromDisposeScope());
                        factoredSignals[factored][c].Add(factors.Signals.to(ScalarType.Float64).DetachFromDisposeScope());
                        factored++;
                    }
                    else
                    {
                        gradients.AddRange(layer.Rule.PerExampleGradients(layer.Module, layer.Input, signals[i], adapted)
                                                .Select(g => g.Gradient.reshape(length, -1).to(ScalarType.Float64)));
                    }
                }
                Tensor rows = gradients.Count == 0 ? zeros(length, 0, dtype: ScalarType.Float64, device: x.HeadInputs.device) : cat(gradients.ToArray(), 1);
                explicitRows[c].Add(rows.DetachFromDisposeScope());
            }).Dispose();
            if (start == 0) ExplicitKernel.CheckSize(x.Count * outputs, explicitRows[0][0].shape[1]);   // the gradients still to come
        }
        var layersOut = factoredInputs.Select((inputs, i) => new FactoredLayer(inputs[0] is null ? null : Concatenate(inputs.Select(t => t!).ToList()),
                                                                               factoredSignals[i].Select(Concatenate).ToArray(), bias[i])).ToList();
        return new Parts(outputs, layersOut, explicitRows.Select(Concatenate).ToArray());
    }

    /// <summary>The batches' parts (detached from their passes' scopes) as one tensor in the caller's scope; the parts are freed.</summary>
    private static Tensor Concatenate(IReadOnlyList<Tensor> parts)
    {
        Tensor whole = cat(parts.ToArray(), 0);
        foreach (var part in parts) part.Dispose();
        return whole;
    }
}
