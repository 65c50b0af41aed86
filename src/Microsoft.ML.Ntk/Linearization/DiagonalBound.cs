using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// A cheap upper bound of the kernel diagonal k_cc(x, x) = |∂f_c(x)/∂θ|² for networks of known layers, from one forward
/// pass and C backward passes per batch (<see cref="LayerSignals"/>): each layer rule's bound of its squared gradient
/// norm, exact for Linear layers on vectors, biases and batch norms, and Cauchy–Schwarz where a gradient sums over
/// positions (convolution weights).
/// </summary>
internal static class DiagonalBound
{
    /// <summary>The bound as [N, C] in float64.</summary>
    public static Tensor Compute(NetworkFunction head, PreparedInputs x, int batchSize) => PerOutputOverBatches(head, x, batchSize,
        (layers, signals, adapted) => layers.Select((l, i) => l.Rule.SquaredNormBound(l.Module, l.Input, signals[i], adapted)));

    /// <summary>The exact diagonal as [N, C] in float64, from each input's own parameter gradients.</summary>
    public static Tensor Exact(NetworkFunction head, PreparedInputs x, int batchSize) => PerOutputOverBatches(head, x, batchSize,
        (layers, signals, adapted) => layers.SelectMany((l, i) => l.PerExampleGradients(signals[i], adapted))
                                            .Select(g => g.Gradient.to(ScalarType.Float64).flatten(1).Squared().sum(1)));

    /// <summary>Σ of per-layer [B] terms for every output, over batches: [N, C].</summary>
    private static Tensor PerOutputOverBatches(NetworkFunction head, PreparedInputs x, int batchSize,
                                               Func<IReadOnlyList<RecordedLayer>, Tensor[], Func<Tensor?, bool>, IEnumerable<Tensor>> terms)
    {
        using var scope = NewDisposeScope();
        var adapted = LayerSignals.IsAdapted(head.Parameters);
        var parts = DataBatches.Of(x.Count, batchSize).Select(b =>
        {
            Tensor batch = x.Batch(b.Start, b.Length);
            var columns = new List<Tensor>();
            LayerSignals.ForEachOutput(head, batch, (_, layers, signals) =>
            {
                Tensor total = zeros(batch.shape[0], dtype: ScalarType.Float64, device: batch.device);
                foreach (var term in terms(layers, signals, adapted)) total.Accumulate(term);
                columns.Add(total.DetachFromDisposeScope());
            });
            Tensor block = stack(columns.ToArray(), 1);
            foreach (var column in columns) column.Dispose();
            return block;
        }).ToArray();
        return scope.MoveToOuter(cat(parts, 0));
    }
}
