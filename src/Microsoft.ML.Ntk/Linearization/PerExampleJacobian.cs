using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The explicit Jacobian of a network of known layers, batched: per batch one forward pass and C backward passes
/// (<see cref="LayerSignals"/>), each layer rule turning its input and signals into every input's own parameter
/// gradients, instead of one forward pass per input and one backward pass per input and output. The gradients are
/// written straight into the result, in either layout: per-output row blocks stacked and batches concatenated copied
/// the whole Jacobian twice (1 s of the 5 s that 1,000 Fashion-MNIST images of ten classes took, with the final
/// rearrangement by output a third copy).
/// </summary>
internal static class PerExampleJacobian
{
    /// <summary>J(X) as [N·C, P] in the parameters' dtype, row n·C + c being ∂f_c(x_n)/∂θ, and f(X) [N, C] from the same passes.</summary>
    public static (Tensor Output, Tensor Rows) OutputAndRows(NetworkFunction head, PreparedInputs x, int batchSize, long outputs)
    {
        Tensor rows = Allocate(head, x.Count * outputs);
        using Tensor byInput = rows.view(x.Count, outputs, -1);
        Tensor output = Fill(head, x, batchSize, (c, start, length) => byInput.narrow(0, start, length).select(1, c));
        return (output, rows);
    }

    /// <summary>J(X) arranged by output, [C, N, P] in the parameters' dtype (block c holding the rows ∂f_c(x_n)/∂θ), and f(X) [N, C].</summary>
    public static (Tensor Output, Tensor Rows) OutputAndRowsByOutput(NetworkFunction head, PreparedInputs x, int batchSize, long outputs)
    {
        Tensor rows = Allocate(head, outputs, x.Count);
        Tensor output = Fill(head, x, batchSize, (c, start, length) => rows[c].narrow(0, start, length));
        return (output, rows);
    }

    /// <summary>Zeros of shape [rows…, P] in the parameters' dtype and device.</summary>
    private static Tensor Allocate(NetworkFunction head, params long[] rows) =>
        zeros(rows.Append(head.Parameters.Count).ToArray(), dtype: head.Parameters.DType, device: head.Parameters.Device);

    /// <summary>
    /// Adds every input's gradient of output c into <paramref name="rowsOf"/>(c, start, length), a [B, P] view of the
    /// result for the batch's inputs (zero before); returns f(X) [N, C].
    /// </summary>
    private static Tensor Fill(NetworkFunction head, PreparedInputs x, int batchSize, Func<long, long, long, Tensor> rowsOf)
    {
        using var scope = NewDisposeScope();
        var parameters = head.Parameters;
        var adapted = LayerSignals.IsAdapted(parameters);
        var outputParts = new List<Tensor>();
        foreach (var (start, length) in DataBatches.Of(x.Count, batchSize))
        {
            outputParts.Add(LayerSignals.ForEachOutput(head, x.Batch(start, length), (c, layers, signals) =>
            {
                using var visit = NewDisposeScope();
                Tensor rows = rowsOf(c, start, length);
                for (int i = 0; i < layers.Count; i++)
                    foreach (var (parameter, gradient) in layers[i].PerExampleGradients(signals[i], adapted))
                    {
                        var (offset, count) = parameters.RangeOf(parameter);
                        rows.narrow(1, offset, count).Accumulate(gradient.reshape(length, count));
                    }
            }));
        }
        return scope.MoveToOuter(cat(outputParts.ToArray(), 0));
    }
}
