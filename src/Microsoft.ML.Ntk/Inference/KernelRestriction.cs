using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// A softmax fit's explicit kernel K0 restricted to some of its inputs, for the pilot of the evidence search and the held-out
/// folds: with independent outputs K0 is the C blocks [C, N, N], whose rows and columns are inputs; otherwise the full
/// [N·C, N·C] kernel, whose rows and columns are latent values n·C + c.
/// </summary>
internal static class KernelRestriction
{
    /// <summary>K0 between the inputs <paramref name="rows"/> and <paramref name="columns"/>: [C, r, c] or [r·C, c·C].</summary>
    public static Tensor Of(Tensor kernel, Tensor rows, Tensor columns, bool independentOutputs, long classes) =>
        independentOutputs
            ? kernel.index_select(1, rows).index_select(2, columns)
            : kernel.index_select(0, Latent(rows, classes)).index_select(1, Latent(columns, classes));

    /// <summary>The latent positions n·C + c of the given inputs, input by input.</summary>
    public static Tensor Latent(Tensor inputs, long classes) =>
        tensor(inputs.cpu().data<long>().ToArray().SelectMany(i => Enumerable.Range(0, (int)classes).Select(k => i * classes + k)).ToArray(),
               device: inputs.device);

    /// <summary>
    /// K0(rows, columns) a for a restricted kernel <paramref name="cross"/> (from <see cref="Of"/>) and weights a [c, C] of the
    /// column inputs: [r, C]. With <paramref name="transposed"/>, K0(columns, rows)ᵀ a for a kernel restricted the other way
    /// round (K0 is symmetric).
    /// </summary>
    public static Tensor Product(Tensor cross, Tensor weights, bool independentOutputs, bool transposed = false)
    {
        long c = weights.shape[1];
        if (independentOutputs)
            return BlockDiagonal.Times(transposed ? cross.transpose(1, 2) : cross, weights.t()).t();
        return (transposed ? cross.t() : cross).matmul(weights.reshape(-1, 1)).reshape(-1, c);
    }
}
