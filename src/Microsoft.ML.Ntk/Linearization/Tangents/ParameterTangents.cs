using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>The tangent [k, *shape] of each adapted parameter, looked up by the parameter itself; frozen ones have none.</summary>
internal sealed class ParameterTangents
{
    private readonly Dictionary<IntPtr, Tensor> byHandle = new();

    public ParameterTangents(IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> tangents)
    {
        for (int i = 0; i < parameters.Count; i++) byHandle[parameters[i].Handle] = tangents[i];
    }

    /// <summary>Called by each layer that holds parameters with (layer, input, output) as it is evaluated.</summary>
    public Action<nn.Module, Tensor, Tensor>? RecordLayer { get; init; }

    /// <summary>The tangent of <paramref name="parameter"/>, or null when it is frozen or absent.</summary>
    public Tensor? Of(Tensor? parameter) =>
        parameter is not null && byHandle.TryGetValue(parameter.Handle, out var tangent) ? tangent : null;
}
