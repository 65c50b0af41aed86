using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>Products with Jᵀ by reverse-mode autograd, on one batch or one input at a time.</summary>
internal static class ReverseProducts
{
    /// <summary>J(x)ᵀ·U on one batch for U of shape [k, B, C]; returns [k, P] in the parameters' dtype.</summary>
    public static Tensor Vjp(NetworkFunction network, Tensor x, Tensor cotangents)
    {
        using var grad = enable_grad();
        return VjpOnGraph(network.Parameters, network.Forward(x), cotangents, new AutogradSession(), keepGraph: false);
    }

    /// <summary>
    /// J(x)ᵀ·U by backward passes through the graph of <paramref name="output"/> (the batch's [B, C] or [B] outputs);
    /// the graph is released after the last pass unless <paramref name="keepGraph"/>.
    /// </summary>
    public static Tensor VjpOnGraph(AdaptedParameters parameters, Tensor output, Tensor cotangents, AutogradSession session, bool keepGraph)
    {
        long k = cotangents.shape[0], rows = output.shape[0], columns = output.numel() / Math.Max(rows, 1);
        if (cotangents.dim() != 3 || cotangents.shape[1] != rows || cotangents.shape[2] != columns)
            throw new ArgumentException($"Cotangents must have shape [k, {rows}, {columns}] for this batch; got {AutogradSession.Shape(cotangents)}.");
        if (!output.requires_grad) return zeros(k, parameters.Count, dtype: output.dtype, device: output.device); // J = 0
        var result = new Tensor[k];
        for (long j = 0; j < k; j++)
        {
            Tensor u = cotangents[j].reshape(output.shape);
            Tensor[] g = session.Grad(new[] { output }, parameters.Tensors, new[] { u }, retainGraph: keepGraph || j < k - 1);
            result[j] = parameters.Join(g, 1);
        }
        return cat(result, 0).detach();
    }

    /// <summary>Every row ∂f_c(x_n)/∂θ of J(X), as [N·C, P]: one forward pass per input, one backward per output
    /// (a backward pass over a batch would sum the rows of its inputs).</summary>
    public static Tensor JacobianRows(NetworkFunction network, PreparedInputs x)
    {
        using var scope = NewDisposeScope();
        var rows = new List<Tensor>();
        ForEachRow(network, x, row => rows.Add(row));
        return scope.MoveToOuter(cat(rows.ToArray(), 0));
    }

    /// <summary>|∂f_c(x_n)/∂θ|² for every input and output, as [N, C] in float64.</summary>
    public static Tensor SquaredRowNorms(NetworkFunction network, PreparedInputs x)
    {
        using var scope = NewDisposeScope();
        var norms = new List<Tensor>();
        ForEachRow(network, x, row => norms.Add(row.to(ScalarType.Float64).Squared().sum()));
        return scope.MoveToOuter(stack(norms.ToArray()).reshape(x.Count, -1));
    }

    private static void ForEachRow(NetworkFunction network, PreparedInputs x, Action<Tensor> visit)
    {
        for (long n = 0; n < x.Count; n++)
        {
            using var grad = enable_grad();
            var session = new AutogradSession();
            Tensor output = network.Forward(x.Batch(n, 1));
            long c = output.shape[1];
            for (long i = 0; i < c; i++)
            {
                Tensor selector = zeros_like(output);
                selector[0, i] = 1;
                Tensor[] g = session.Grad(new[] { output }, network.Parameters.Tensors, new[] { selector }, retainGraph: i < c - 1);
                visit(network.Parameters.Join(g, 1).detach());
            }
        }
    }
}
