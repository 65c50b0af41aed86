using Microsoft.ML.Ntk.Linearization.Layers;
using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The kernel of a fully connected head without building J: a Linear layer with inputs A and back-propagated
/// signals Δ (the derivative of each output with respect to the layer's outputs) adds (Δ1 Δ2ᵀ) ∘ (A1 A2ᵀ) for
/// its weight and Δ1 Δ2ᵀ for its bias. Applies when every adapted parameter is a Linear layer's, and everything
/// from the first adapted layer to the output is Linear layers, element-wise activations, Dropout or Identity, none used twice.
/// </summary>
internal static class StructuredKernel
{
    /// <summary>Whether the structured kernel applies to this head with its inputs of the given rank.</summary>
    public static bool Supports(nn.Module head, AdaptedParameters parameters, long inputRank)
    {
        if (inputRank != 2) return false;
        var layers = Layers(head);
        if (layers is null) return false;
        // A layer used twice (weight tying) has cross terms between its uses that the per-layer sum does not have.
        var linears = layers.OfType<Linear>().ToList();
        if (linears.Distinct().Count() != linears.Count) return false;
        var owned = layers.OfType<Linear>().SelectMany(l => new Tensor?[] { l.weight, l.bias }).Where(t => t is not null)
                          .Select(t => t!.Handle).ToHashSet();
        return parameters.Tensors.All(t => owned.Contains(t.Handle));
    }

    /// <summary>K(X1, X2) as [N1·C, N2·C] in float64.</summary>
    public static Tensor Kernel(nn.Module head, AdaptedParameters parameters, Tensor x1, Tensor x2, int batchSize)
    {
        using var scope = NewDisposeScope();
        var f1 = BatchedFeatures(head, parameters, x1, batchSize);
        var f2 = ReferenceEquals(x1, x2) ? f1 : BatchedFeatures(head, parameters, x2, batchSize);
        long c = f1[0].Delta.shape[1];
        Tensor kernel = zeros(x1.shape[0] * c, x2.shape[0] * c, dtype: ScalarType.Float64, device: f1[0].Delta.device);
        for (int l = 0; l < f1.Count; l++)
        {
            var first = AsFactors(f1[l]);
            FactoredLayerKernel.AddFull(kernel, first, ReferenceEquals(f1, f2) ? first : AsFactors(f2[l]));
        }
        return scope.MoveToOuter(kernel);
    }

    /// <summary>One layer's features as the factors of one position each.</summary>
    private static FactoredLayerKernel.Factors AsFactors((Tensor A, Tensor Delta, bool Weight, bool Bias) layer) =>
        new(layer.Weight ? layer.A.unsqueeze(1) : null, layer.Delta.permute(1, 0, 2).unsqueeze(2), layer.Bias);

    /// <summary>The exact diagonal k_cc(x_n, x_n) as [N, C] in float64: Σ_l |Δ_l|² (|A_l|² + 1).</summary>
    public static Tensor Diagonal(nn.Module head, AdaptedParameters parameters, Tensor x, int batchSize)
    {
        using var scope = NewDisposeScope();
        Tensor? diagonal = null;
        foreach (var (a, d, weight, bias) in BatchedFeatures(head, parameters, x, batchSize))
        {
            Tensor inputs = (weight ? a.Squared().sum(1) : zeros(a.shape[0], dtype: a.dtype, device: a.device)).PlusConstant(bias ? 1.0 : 0.0);
            Tensor term = d.Squared().sum(2) * inputs.unsqueeze(1);
            diagonal = diagonal is null ? term : diagonal.Accumulate(term);
        }
        return scope.MoveToOuter(diagonal!);
    }

    private static List<(Tensor A, Tensor Delta, bool Weight, bool Bias)> BatchedFeatures(
        nn.Module head, AdaptedParameters parameters, Tensor x, int batchSize)
    {
        var batches = DataBatches.Of(x.shape[0], batchSize).Select(b => Features(head, parameters, x.narrow(0, b.Start, b.Length))).ToList();
        return Enumerable.Range(0, batches[0].Count).Select(l =>
            (cat(batches.Select(b => b[l].A).ToArray(), 0), cat(batches.Select(b => b[l].Delta).ToArray(), 0),
             batches[0][l].Weight, batches[0][l].Bias)).ToList();
    }

    /// <summary>
    /// For each Linear layer with adapted parameters: its inputs A [N, in], its signals Δ [N, C, out] in float64, and
    /// whether its weight and its bias are adapted.
    /// </summary>
    private static List<(Tensor A, Tensor Delta, bool Weight, bool Bias)> Features(nn.Module head, AdaptedParameters parameters, Tensor x)
    {
        var layers = Layers(head)!;
        var adapted = parameters.Tensors.Select(t => t.Handle).ToHashSet();
        using var noGrad = no_grad();
        // Forward: keep each module's input.
        var inputs = new List<Tensor>();
        Tensor h = x;
        foreach (var layer in layers)
        {
            inputs.Add(h);
            h = ((nn.IModule<Tensor, Tensor>)layer).call(h);
        }
        // Backward by hand: Δ at the output is the identity of the C outputs, laid out [C, N, width].
        long n = x.shape[0], c = h.shape[^1];
        Tensor delta = eye(c, dtype: h.dtype, device: h.device).unsqueeze(1).expand(c, n, c);
        var features = new List<(Tensor, Tensor, bool, bool)>();
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            if (layers[i] is Linear linear)
            {
                bool weight = adapted.Contains(linear.weight!.Handle), bias = linear.bias is not null && adapted.Contains(linear.bias.Handle);
                if (weight || bias)
                    features.Add((inputs[i].to(ScalarType.Float64), delta.transpose(0, 1).to(ScalarType.Float64), weight, bias));
                delta = delta.matmul(linear.weight!);
            }
            else if (ActivationDerivatives.IsKnown(layers[i]))
            {
                delta = delta * ActivationDerivatives.Evaluate(layers[i], inputs[i]).Slope();
            }
            if (features.Count == CountAdaptedLayers(layers, adapted)) break;
        }
        return features;
    }

    private static int CountAdaptedLayers(List<nn.Module> layers, HashSet<IntPtr> adapted) =>
        layers.OfType<Linear>().Count(l => adapted.Contains(l.weight!.Handle) || (l.bias is not null && adapted.Contains(l.bias.Handle)));

    /// <summary>The head as a flat list of Linear, activation, Dropout and Identity modules; null if it is anything else.</summary>
    private static List<nn.Module>? Layers(nn.Module head)
    {
        var layers = new List<nn.Module>();
        return Collect(head, layers) ? layers : null;
    }

    private static bool Collect(nn.Module module, List<nn.Module> layers)
    {
        switch (module)
        {
            case Sequential sequential:
                return sequential.named_children().All(child => Collect(child.module, layers));
            case Linear or Dropout or Identity:
            case var _ when ActivationDerivatives.IsKnown(module):
                layers.Add(module);
                return true;
            default:
                return false;
        }
    }
}
