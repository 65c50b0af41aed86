using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>
/// One pass through known layers. It carries the parameter tangents of a forward-mode pass, collects the steps of
/// a reverse pass (each maps the cotangent of a layer's output to that of its input, adding its parameters'
/// cotangents here), and replays primal values from a tape when the same inputs were seen before.
/// </summary>
internal sealed class PropagationContext
{
    private readonly Dictionary<IntPtr, Tensor> tangents = new();
    private readonly HashSet<IntPtr> adapted;
    private readonly Dictionary<IntPtr, Tensor> cotangents = new();

    public PropagationContext(IReadOnlyList<Tensor> adaptedParameters, IReadOnlyList<Tensor>? parameterTangents = null,
                              PrimalTape? tape = null, bool reverse = false)
    {
        adapted = adaptedParameters.Select(p => p.Handle).ToHashSet();
        if (parameterTangents is not null)
            for (int i = 0; i < adaptedParameters.Count; i++) tangents[adaptedParameters[i].Handle] = parameterTangents[i];
        Tape = tape;
        ReverseSteps = reverse ? new List<Func<Tensor, Tensor?>>() : null;
    }

    public PrimalTape? Tape { get; }

    /// <summary>The steps of the reverse pass in forward order; null when no reverse pass is wanted.</summary>
    public List<Func<Tensor, Tensor?>>? ReverseSteps { get; private set; }

    /// <summary>Whether an adapted parameter was met earlier in this pass: from then on, tangents and cotangents flow.</summary>
    public bool SeenAdapted { get; set; }

    /// <summary>Called by each layer that holds parameters with (layer, input, output) as it is evaluated.</summary>
    public Action<nn.Module, Tensor, Tensor>? RecordLayer { get; init; }

    public bool IsAdapted(Tensor? parameter) => parameter is not null && adapted.Contains(parameter.Handle);

    /// <summary>The tangent [k, *shape] of <paramref name="parameter"/>, or null when it is frozen, absent or this pass has none.</summary>
    public Tensor? TangentOf(Tensor? parameter) =>
        parameter is not null && tangents.TryGetValue(parameter.Handle, out var tangent) ? tangent : null;

    /// <summary>A primal value: from the tape when it is replaying, else computed (and recorded when it is recording).</summary>
    public Tensor Primal(Func<Tensor> compute) => Tape is null ? compute() : Tape.Take(compute);

    /// <summary>Adds a reverse step when cotangents flow through this point of the network.</summary>
    public void AddReverseStep(Func<Tensor, Tensor?> step)
    {
        if (ReverseSteps is not null && SeenAdapted) ReverseSteps.Add(step);
    }

    /// <summary>Adds the cotangent [k, *shape] of an adapted parameter.</summary>
    public void AddCotangent(Tensor parameter, Tensor cotangent)
    {
        cotangents[parameter.Handle] = cotangents.TryGetValue(parameter.Handle, out var sum) ? sum + cotangent : cotangent;
    }

    /// <summary>The accumulated cotangent of <paramref name="parameter"/>, or null when nothing reached it.</summary>
    public Tensor? CotangentOf(Tensor parameter) => cotangents.TryGetValue(parameter.Handle, out var c) ? c : null;

    /// <summary>Runs the reverse steps from last to first, starting from the cotangent of the network's output.</summary>
    public static Tensor? RunReverse(IReadOnlyList<Func<Tensor, Tensor?>> steps, Tensor outputCotangent)
    {
        Tensor? cotangent = outputCotangent;
        for (int i = steps.Count - 1; i >= 0 && cotangent is not null; i--) cotangent = steps[i](cotangent);
        return cotangent;
    }

    /// <summary>Collects the reverse steps of a sub-path (a branch of a residual block) separately.</summary>
    public List<Func<Tensor, Tensor?>>? BeginBranch()
    {
        var outer = ReverseSteps;
        if (outer is not null) ReverseSteps = new List<Func<Tensor, Tensor?>>();
        return outer;
    }

    /// <summary>Ends a branch begun by <see cref="BeginBranch"/>; returns its steps.</summary>
    public List<Func<Tensor, Tensor?>> EndBranch(List<Func<Tensor, Tensor?>>? outer)
    {
        var branch = ReverseSteps ?? new List<Func<Tensor, Tensor?>>();
        ReverseSteps = outer;
        return branch;
    }
}
