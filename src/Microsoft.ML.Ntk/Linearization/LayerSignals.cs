using Microsoft.ML.Ntk.Linearization.Layers;
using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// A layer with adapted parameters met by a recording pass: its rule, the module, its input and output, and what its
/// per-example gradients need of the input (<see cref="LayerRule.ExampleInput"/>), formed at its first use and kept until
/// the recording pass ends, so that the C backward passes share it.
/// </summary>
internal sealed class RecordedLayer(LayerRule rule, nn.Module module, Tensor input, Tensor output) : IDisposable
{
    private Tensor? exampleInput;

    public LayerRule Rule => rule;
    public nn.Module Module => module;
    public Tensor Input => input;
    public Tensor Output => output;

    /// <summary>
    /// Each input's gradients of one output (<see cref="LayerRule.PerExampleGradients"/>) from its signal δ, with the
    /// layer's <see cref="LayerRule.ExampleInput"/> formed at the first call (the adapted parameters are the pass's own, the
    /// same at every call) and kept outside every dispose scope until <see cref="Dispose"/>.
    /// </summary>
    public IEnumerable<(Tensor Parameter, Tensor Gradient)> PerExampleGradients(Tensor delta, Func<Tensor?, bool> adapted)
    {
        if (exampleInput is null)
        {
            using var noGrad = no_grad();
            Tensor formed = rule.ExampleInput(module, input, adapted);
            exampleInput = ReferenceEquals(formed, input) ? input : formed.DetachFromDisposeScope();
        }
        return rule.PerExampleGradients(module, exampleInput, delta, adapted);
    }

    public void Dispose()
    {
        if (exampleInput is not null && !ReferenceEquals(exampleInput, input)) exampleInput.Dispose();
        exampleInput = null;
    }
}

/// <summary>
/// For networks of known layers: one forward pass over a batch that records every layer holding adapted parameters, then
/// one backward pass per output c to those layers' outputs. Inputs do not interact in evaluation mode, so each pass gives
/// every input's own signal δ = ∂f_c/∂y at every recorded layer: what per-example gradients, exact kernel diagonals and
/// their bounds are built from, with C backward passes per batch instead of one per input and output.
/// </summary>
internal static class LayerSignals
{
    /// <summary>
    /// Calls <paramref name="visit"/>(c, layers, signals) for each output c, signals[i] belonging to layers[i]; returns
    /// the batch's outputs f(x) [B, C] (without a graph).
    /// </summary>
    public static Tensor ForEachOutput(NetworkFunction head, Tensor x, Action<long, IReadOnlyList<RecordedLayer>, Tensor[]> visit)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var adapted = head.Parameters.Tensors.Select(t => t.Handle).ToHashSet();
        var layers = new List<RecordedLayer>();
        var recorder = new PropagationContext(head.Parameters.Tensors)
        {
            RecordLayer = (layer, input, output) =>
            {
                if (layer.parameters().Any(p => adapted.Contains(p.Handle)))
                    layers.Add(new RecordedLayer(LayerRules.For(layer)!, layer, input.detach(), output));
            },
        };
        Tensor y = NetworkFunction.Guard(x, () => TangentPropagation.Propagate(head.Module, x, null, recorder).Output);
        if (y.dim() == 1) y = y.unsqueeze(1);
        long c = y.shape[1];
        var session = new AutogradSession();
        var outputs = layers.Select(l => l.Output).ToArray();
        try
        {
            for (long i = 0; i < c; i++)
            {
                using var pass = NewDisposeScope();
                Tensor output = y.select(1, i);
                Tensor[] signals = session.Grad(new[] { output }, outputs, new[] { ones_like(output) }, retainGraph: i < c - 1);
                visit(i, layers, signals.Select(s => s.detach()).ToArray());
            }
        }
        finally
        {
            foreach (var layer in layers) layer.Dispose();
        }
        return scope.MoveToOuter(y.detach());
    }

    /// <summary>A test of whether a tensor is one of the adapted parameters (false for null).</summary>
    public static Func<Tensor?, bool> IsAdapted(AdaptedParameters parameters)
    {
        var handles = parameters.Tensors.Select(t => t.Handle).ToHashSet();
        return p => p is not null && handles.Contains(p.Handle);
    }
}
