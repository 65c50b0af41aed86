using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The network as a function of its inputs and adapted parameters: f(x; θ) ∈ R^{B×C}, evaluated with the
/// module in evaluation mode. Checks what the module gets and gives so that autograd never sees a surprise. Networks of
/// known layers are evaluated by their layer rules (the same arithmetic as the tangent passes, and none of TorchSharp's
/// temporary Scalars, see <see cref="ScalarSafe"/>); other modules by their own forward.
/// </summary>
internal sealed class NetworkFunction
{
    private readonly nn.IModule<Tensor, Tensor> callable;
    private readonly bool knownLayers;

    public NetworkFunction(nn.Module module, AdaptedParameters parameters)
    {
        Module = module;
        callable = AsCallable(module);
        Parameters = parameters;
        knownLayers = Tangents.TangentPropagation.FirstUnknown(module) is null;
    }

    /// <summary>The module: an nn.Module&lt;Tensor, Tensor&gt; or a TorchScript module.</summary>
    public nn.Module Module { get; }
    public AdaptedParameters Parameters { get; }

    /// <summary>f(x) as [B, C]; a [B] output counts as C = 1. Builds a graph when grad mode is on.</summary>
    public Tensor Forward(Tensor x)
    {
        EnsureEvaluationMode(Module);
        Tensor output = Guard(x, () => knownLayers
            ? Tangents.TangentPropagation.Propagate(Module, x, null, new Tangents.PropagationContext(Parameters.Tensors)).Output
            : callable.call(x));
        if (output.dim() == 1) output = output.unsqueeze(1);
        if (output.dim() != 2 || output.shape[0] != x.shape[0])
            throw new ArgumentException($"The network must map a batch of B inputs to B×C outputs; an input batch of shape " +
                                        $"{AutogradSession.Shape(x)} gave outputs of shape {AutogradSession.Shape(output)}.");
        return output;
    }

    /// <summary>Runs a pass of the network over <paramref name="x"/>, turning libtorch's complaints into a clear error.</summary>
    public static T Guard<T>(Tensor x, Func<T> pass)
    {
        try
        {
            return pass();
        }
        catch (System.Runtime.InteropServices.ExternalException ex)
        {
            throw new ArgumentException($"The network's forward pass failed on an input batch of shape {AutogradSession.Shape(x)} " +
                                        $"({x.dtype}): {FirstLine(ex.Message)}", ex);
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    /// <summary>The input batch as the parameters want it, or a clear error.</summary>
    public void CheckInput(Tensor x)
    {
        if (x.dim() < 1 || x.shape[0] == 0)
            throw new ArgumentException($"Expected a non-empty batch of inputs, got shape {AutogradSession.Shape(x)}.");
        if (x.dtype != Parameters.DType)
            throw new ArgumentException($"The inputs are {x.dtype} but the network's parameters are {Parameters.DType}.");
        if (x.device.ToString() != Parameters.Device.ToString())
            throw new ArgumentException($"The inputs are on {x.device} but the network's parameters are on {Parameters.Device}.");
    }

    /// <summary>Modules built in C# and TorchScript modules share this interface, not a base class.</summary>
    internal static nn.IModule<Tensor, Tensor> AsCallable(nn.Module module) =>
        module as nn.IModule<Tensor, Tensor>
        ?? throw new ArgumentException($"The network ({module.GetType().Name}) must map one tensor to one tensor.");

    internal static void EnsureEvaluationMode(nn.Module module)
    {
        if (module.training)
            throw new InvalidOperationException("The network is in training mode; the linearization needs evaluation mode " +
                                                "(batch-norm statistics and dropout frozen). Call eval() on it first.");
    }
}
