using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The adapted parameters θ as one flat vector of length P: the layout that tangent vectors V ∈ R^{k×P}
/// and the results of Jᵀ·U use. Rows are tangents; columns follow the parameters in the network's order.
/// </summary>
internal sealed class AdaptedParameters
{
    private readonly long[] offsets;

    public AdaptedParameters(IReadOnlyList<(string Name, Tensor Parameter)> selected)
    {
        Names = selected.Select(p => p.Name).ToArray();
        Tensors = selected.Select(p => p.Parameter).ToArray();
        offsets = new long[Tensors.Length + 1];
        for (int i = 0; i < Tensors.Length; i++) offsets[i + 1] = offsets[i] + Tensors[i].numel();
        DType = Tensors[0].dtype;
        Device = Tensors[0].device;
        var mixed = Tensors.FirstOrDefault(t => t.dtype != DType || t.device.ToString() != Device.ToString());
        if (mixed is not null)
            throw new ArgumentException($"All adapted parameters must share one dtype and device; '{Names[0]}' is " +
                                        $"{DType} on {Device}, '{Names[Array.IndexOf(Tensors, mixed)]}' is {mixed.dtype} on {mixed.device}.");
    }

    public string[] Names { get; }
    public Tensor[] Tensors { get; }
    public ScalarType DType { get; }
    public Device Device { get; }

    /// <summary>P, the number of adapted scalars.</summary>
    public long Count => offsets[^1];

    /// <summary>Where <paramref name="parameter"/>'s values lie in the flat vector: (offset, count); throws for another tensor.</summary>
    public (long Offset, long Count) RangeOf(Tensor parameter)
    {
        int i = Array.FindIndex(Tensors, t => t.Handle == parameter.Handle);
        if (i < 0) throw new ArgumentException("This tensor is not one of the adapted parameters.");
        return (offsets[i], offsets[i + 1] - offsets[i]);
    }

    /// <summary>Views of a [k, P] matrix of tangents, one [k, *shape] tensor per parameter.</summary>
    public Tensor[] Split(Tensor flat)
    {
        var parts = new Tensor[Tensors.Length];
        long k = flat.shape[0];
        for (int i = 0; i < Tensors.Length; i++)
            parts[i] = flat.narrow(1, offsets[i], offsets[i + 1] - offsets[i]).reshape(Prepend(k, Tensors[i].shape));
        return parts;
    }

    /// <summary>Concatenates per-parameter [k, *shape] tensors into a [k, P] matrix.</summary>
    public Tensor Join(IReadOnlyList<Tensor> parts, long k) =>
        cat(parts.Select(p => p.reshape(k, -1)).ToArray(), dim: 1);

    internal static long[] Prepend(long first, long[] rest)
    {
        var shape = new long[rest.Length + 1];
        shape[0] = first;
        rest.CopyTo(shape, 1);
        return shape;
    }
}
