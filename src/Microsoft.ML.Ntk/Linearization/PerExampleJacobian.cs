using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The explicit Jacobian of a network of known layers, batched: per batch one forward pass and C backward passes
/// (<see cref="LayerSignals"/>), each layer rule turning its input and signals into every input's own parameter
/// gradients, instead of one forward pass per input and one backward pass per input and output.
/// </summary>
internal static class PerExampleJacobian
{
    /// <summary>J(X) as [N·C, P] in the parameters' dtype, row n·C + c being ∂f_c(x_n)/∂θ, and f(X) [N, C] from the same passes.</summary>
    public static (Tensor Output, Tensor Rows) OutputAndRows(NetworkFunction head, PreparedInputs x, int batchSize)
    {
        using var scope = NewDisposeScope();
        var parameters = head.Parameters;
        var adapted = LayerSignals.IsAdapted(parameters);
        var parts = new List<Tensor>();
        var outputParts = new List<Tensor>();
        foreach (var (start, length) in DataBatches.Of(x.Count, batchSize))
        {
            var perOutput = new List<Tensor>();                                            // [B, P] for each output, in order
            outputParts.Add(LayerSignals.ForEachOutput(head, x.Batch(start, length), (_, layers, signals) =>
            {
                Tensor rows = zeros(length, parameters.Count, dtype: parameters.DType, device: parameters.Device).DetachFromDisposeScope();
                for (int i = 0; i < layers.Count; i++)
                    foreach (var (parameter, gradient) in layers[i].PerExampleGradients(signals[i], adapted))
                    {
                        var (offset, count) = parameters.RangeOf(parameter);
                        rows.narrow(1, offset, count).Accumulate(gradient.reshape(length, count));
                    }
                perOutput.Add(rows);
            }));
            foreach (var rows in perOutput) scope.Attach(rows);
            parts.Add(stack(perOutput.ToArray(), 1).flatten(0, 1));                        // row n·C + c
        }
        return (scope.MoveToOuter(cat(outputParts.ToArray(), 0)), scope.MoveToOuter(cat(parts.ToArray(), 0)));
    }
}
