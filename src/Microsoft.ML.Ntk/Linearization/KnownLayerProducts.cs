using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Products for networks of known layers. J·V by forward-mode tangent propagation: one pass carries all k tangents.
/// Jᵀ·U by libtorch's backward pass. With a primal tape, the first pass over a batch records its primal values and
/// keeps its autograd graph; later passes replay the values (J·V computes tangents only) or reuse the graph (Jᵀ·U
/// runs the backward pass only).
/// </summary>
internal sealed class KnownLayerProducts : IJacobianProducts
{
    private readonly NetworkFunction network;

    private KnownLayerProducts(NetworkFunction network) => this.network = network;

    /// <summary>These products, or null when some module has no tangent rule.</summary>
    public static KnownLayerProducts? Create(NetworkFunction network) =>
        TangentPropagation.FirstUnknown(network.Module) is null ? new KnownLayerProducts(network) : null;

    public static string FirstUnknownModule(nn.Module module) => TangentPropagation.FirstUnknown(module) ?? "none";

    public bool UsesPrimalTape => true;

    public Tensor Jvp(Tensor x, Tensor[] parameterTangents, PrimalTape? tape)
    {
        bool recording = tape is { Replaying: false };
        var context = new PropagationContext(network.Parameters.Tensors, parameterTangents, tape, buildGraph: recording);
        var (output, outputTangent) = Run(x, context);
        if (recording) tape!.KeepGraph(output);
        tape?.EndPass();
        long k = parameterTangents[0].shape[0];
        if (outputTangent is null) return zeros(AdaptedParameters.Prepend(k, output.shape), dtype: output.dtype, device: output.device);
        return output.dim() == 1 ? outputTangent.unsqueeze(-1) : outputTangent;
    }

    public Tensor Vjp(Tensor x, Tensor cotangents, PrimalTape? tape)
    {
        NetworkFunction.EnsureEvaluationMode(network.Module);
        if (tape is { Replaying: true, GraphOutput: { } kept })
            return ReverseProducts.VjpOnGraph(network.Parameters, kept, cotangents, tape.GraphSession, keepGraph: true);
        var context = new PropagationContext(network.Parameters.Tensors, tape: tape, buildGraph: true);
        var (output, _) = Run(x, context);
        if (tape is null) return ReverseProducts.VjpOnGraph(network.Parameters, output, cotangents, new AutogradSession(), keepGraph: false);
        tape.KeepGraph(output);
        tape.EndPass();
        return ReverseProducts.VjpOnGraph(network.Parameters, output, cotangents, tape.GraphSession, keepGraph: true);
    }

    private (Tensor Output, Tensor? Tangent) Run(Tensor x, PropagationContext context)
    {
        NetworkFunction.EnsureEvaluationMode(network.Module);
        using var noGrad = no_grad();
        return NetworkFunction.Guard(x, () => TangentPropagation.Propagate(network.Module, x, null, context));
    }
}
