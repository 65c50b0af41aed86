using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Products through rules written for known layers: J·V by forward-mode tangent propagation (one pass carries all k
/// tangents) and Jᵀ·U by the transposed rules, both without libtorch's autograd graph. With a primal tape, passes
/// after the first over the same batch skip the primal computations.
/// </summary>
internal sealed class KnownLayerProducts : IJacobianProducts
{
    private readonly NetworkFunction network;

    private KnownLayerProducts(NetworkFunction network) => this.network = network;

    /// <summary>These products, or null when some module has no rule.</summary>
    public static KnownLayerProducts? Create(NetworkFunction network) =>
        TangentPropagation.FirstUnknown(network.Module) is null ? new KnownLayerProducts(network) : null;

    public static string FirstUnknownModule(nn.Module module) => TangentPropagation.FirstUnknown(module) ?? "none";

    public bool UsesPrimalTape => true;

    public Tensor Jvp(Tensor x, Tensor[] parameterTangents, PrimalTape? tape)
    {
        var context = new PropagationContext(network.Parameters.Tensors, parameterTangents, tape);
        var (output, outputTangent) = Run(x, context, tape);
        long k = parameterTangents[0].shape[0];
        if (outputTangent is null) return zeros(AdaptedParameters.Prepend(k, output.shape), dtype: output.dtype, device: output.device);
        return output.dim() == 1 ? outputTangent.unsqueeze(-1) : outputTangent;
    }

    public Tensor Vjp(Tensor x, Tensor cotangents, PrimalTape? tape)
    {
        var context = new PropagationContext(network.Parameters.Tensors, tape: tape, reverse: true);
        var (output, _) = Run(x, context, tape);
        long k = cotangents.shape[0];
        if (cotangents.dim() != 3 || cotangents.shape[1] != x.shape[0] || output.numel() != x.shape[0] * cotangents.shape[2])
            throw new ArgumentException($"Cotangents must have shape [k, {x.shape[0]}, {output.numel() / x.shape[0]}] for this batch; " +
                                        $"got {AutogradSession.Shape(cotangents)}.");
        PropagationContext.RunReverse(context.ReverseSteps!, cotangents.reshape(AdaptedParameters.Prepend(k, output.shape)));
        var parts = network.Parameters.Tensors
            .Select(p => context.CotangentOf(p) ?? zeros(AdaptedParameters.Prepend(k, p.shape), dtype: p.dtype, device: p.device)).ToList();
        return network.Parameters.Join(parts, k);
    }

    private (Tensor Output, Tensor? Tangent) Run(Tensor x, PropagationContext context, PrimalTape? tape)
    {
        NetworkFunction.EnsureEvaluationMode(network.Module);
        using var noGrad = no_grad();
        var result = NetworkFunction.Guard(x, () => TangentPropagation.Propagate(network.Module, x, null, context));
        tape?.EndPass();
        return result;
    }
}
