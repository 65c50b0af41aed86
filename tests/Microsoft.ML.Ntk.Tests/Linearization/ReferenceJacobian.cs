using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>
/// Explicit float64 Jacobians built without the code under test: row by row with plain autograd calls on one
/// input at a time, and column by column with central finite differences of the parameters.
/// Columns follow the given parameters in order; rows are n·C + c.
/// </summary>
internal static class ReferenceJacobian
{
    public static Tensor Call(nn.Module network, Tensor x) => ((nn.IModule<Tensor, Tensor>)network).call(x);

    public static Tensor ByRows(nn.Module network, Tensor inputs, IReadOnlyList<Tensor> parameters)
    {
        var rows = new List<Tensor>();
        var flags = network.parameters().Select(p => (p, p.requires_grad)).ToList();
        foreach (var p in parameters) p.requires_grad = true;
        for (long n = 0; n < inputs.shape[0]; n++)
        {
            using var grad = enable_grad();
            Tensor output = Call(network, inputs.narrow(0, n, 1)).reshape(-1);
            for (long c = 0; c < output.shape[0]; c++)
            {
                var g = autograd.grad(new[] { output[c] }, parameters.ToList(), retain_graph: true, allow_unused: true);
                rows.Add(cat(g.Select((t, i) => t.IsInvalid ? zeros(parameters[i].numel(), dtype: parameters[i].dtype) : t.reshape(-1)).ToArray()));
            }
        }
        foreach (var (p, flag) in flags) p.requires_grad = flag;
        return stack(rows.ToArray()).to(ScalarType.Float64).detach();
    }

    public static Tensor ByFiniteDifferences(nn.Module network, Tensor inputs, IReadOnlyList<Tensor> parameters)
    {
        double h = Tolerances.FiniteDifferenceStep;
        var columns = new List<Tensor>();
        using var noGrad = no_grad();
        foreach (var parameter in parameters)
        {
            Tensor flat = parameter.view(-1);
            for (long i = 0; i < flat.shape[0]; i++)
            {
                double original = flat[i].item<double>();
                flat[i] = original + h;
                Tensor plus = Call(network, inputs).reshape(-1).clone();
                flat[i] = original - h;
                Tensor minus = Call(network, inputs).reshape(-1).clone();
                flat[i] = original;
                columns.Add((plus - minus) / (2 * h));
            }
        }
        return stack(columns.ToArray(), 1);
    }
}
