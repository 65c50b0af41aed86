using Microsoft.ML.Ntk.Linearization.Tangents;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>J·V by forward-mode tangent propagation through known layers: one pass carries all k tangents.</summary>
internal sealed class ForwardModeTangents : ITangentMethod
{
    private readonly NetworkFunction network;

    private ForwardModeTangents(NetworkFunction network) => this.network = network;

    /// <summary>The forward-mode method, or null when some module has no tangent rule.</summary>
    public static ForwardModeTangents? Create(NetworkFunction network) =>
        TangentPropagation.FirstUnknown(network.Module) is null ? new ForwardModeTangents(network) : null;

    public static string FirstUnknownModule(nn.Module module) =>
        TangentPropagation.FirstUnknown(module) ?? "none";

    public Tensor Jvp(Tensor x, Tensor[] parameterTangents)
    {
        NetworkFunction.EnsureEvaluationMode(network.Module);
        using var noGrad = no_grad();
        var tangents = new ParameterTangents(network.Parameters.Tensors, parameterTangents);
        var (output, outputTangent) = NetworkFunction.Guard(x, () => TangentPropagation.Propagate(network.Module, x, null, tangents));
        long k = parameterTangents[0].shape[0];
        if (outputTangent is null) return zeros(AdaptedParameters.Prepend(k, output.shape), dtype: output.dtype, device: output.device);
        return output.dim() == 1 ? outputTangent.unsqueeze(-1) : outputTangent;
    }
}
