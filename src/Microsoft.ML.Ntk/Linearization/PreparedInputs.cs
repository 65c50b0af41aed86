using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Inputs X made ready for repeated Jacobian products: when the network has a frozen trunk, its outputs
/// for X are computed once and kept here; otherwise X itself. Owns its tensor.
/// </summary>
internal sealed class PreparedInputs : IDisposable
{
    internal PreparedInputs(Tensor headInputs, long count)
    {
        HeadInputs = headInputs;
        Count = count;
    }

    /// <summary>What the adapted part of the network receives: X, or the trunk's outputs for X.</summary>
    public Tensor HeadInputs { get; }

    /// <summary>N, the number of inputs.</summary>
    public long Count { get; }

    public Tensor Batch(long start, long length) => HeadInputs.narrow(0, start, length);

    public void Dispose() => HeadInputs.Dispose();
}
