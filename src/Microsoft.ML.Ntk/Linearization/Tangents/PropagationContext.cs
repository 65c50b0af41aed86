using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// One pass through known layers: the parameter tangents of a forward-mode pass, the tape that records or replays
/// the batch's primal values, and whether those values should carry libtorch's autograd graph (so that reverse
/// products can run on it, now or on later passes).
/// </summary>
internal sealed class PropagationContext
{
    private readonly Dictionary<IntPtr, Tensor> tangents = new();
    private readonly HashSet<IntPtr> adapted;

    public PropagationContext(IReadOnlyList<Tensor> adaptedParameters, IReadOnlyList<Tensor>? parameterTangents = null,
                              PrimalTape? tape = null, bool buildGraph = false)
    {
        adapted = adaptedParameters.Select(p => p.Handle).ToHashSet();
        if (parameterTangents is not null)
            for (int i = 0; i < adaptedParameters.Count; i++) tangents[adaptedParameters[i].Handle] = parameterTangents[i];
        Tape = tape;
        BuildGraph = buildGraph;
    }

    public PrimalTape? Tape { get; }

    /// <summary>Whether primal values are computed with an autograd graph.</summary>
    public bool BuildGraph { get; }

    /// <summary>
    /// Whether an adapted parameter was met earlier in this pass: from then on tangents flow, and derivative slopes are
    /// kept. It depends only on the network and the selection, so every pass asks the tape for the same values.
    /// </summary>
    public bool SeenAdapted { get; set; }

    /// <summary>Called by each layer that holds parameters with (layer, input, output) as it is evaluated.</summary>
    public Action<nn.Module, Tensor, Tensor>? RecordLayer { get; init; }

    public bool IsAdapted(Tensor? parameter) => parameter is not null && adapted.Contains(parameter.Handle);

    /// <summary>The tangent [k, *shape] of <paramref name="parameter"/>, or null when it is frozen, absent or this pass has none.</summary>
    public Tensor? TangentOf(Tensor? parameter) =>
        parameter is not null && tangents.TryGetValue(parameter.Handle, out var tangent) ? tangent : null;

    /// <summary>
    /// A primal value: from the tape when it replays; else computed (with a graph when this pass builds one and the
    /// value is differentiable) and recorded when the tape records.
    /// </summary>
    public Tensor Primal(Func<Tensor> compute, bool differentiable = true)
    {
        if (Tape is { Replaying: true }) return Tape.Next();
        Tensor value;
        if (BuildGraph && differentiable)
        {
            using var grad = enable_grad();
            value = compute();
        }
        else
        {
            value = compute();
        }
        Tape?.Record(value);
        return value;
    }

    /// <summary>Marks the layer's adapted parameters as seen.</summary>
    public void Enter(Tensor? weight, Tensor? bias) => SeenAdapted |= IsAdapted(weight) || IsAdapted(bias);
}
