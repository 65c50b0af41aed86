namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The numbers of this layer that decide behaviour (budgets, tolerances, iteration limits, search ranges), each with why it
/// has its value, in one place.
/// </summary>
internal static class LinearizationSettings
{
    /// <summary>The most bytes an explicit Jacobian (N·C × P, float64) may take: 2 GiB.</summary>
    public const long MaxJacobianBytes = 2L << 30;

    /// <summary>The default memory budget for primal tapes: 1 GiB.</summary>
    public const long DefaultTapeBudgetBytes = 1L << 30;

    /// <summary>How many tangents one pass over the larger input set carries in <see cref="LinearizedNetwork.GenericKernel"/> (bounds memory).</summary>
    public const int TangentChunk = 64;

    /// <summary>
    /// The most bytes of temporaries one chunk of a factored layer kernel's rows may take (<see cref="FactoredLayerKernel"/>):
    /// 256 MiB, large enough that each chunk is one big matrix product, small beside the kernel itself.
    /// </summary>
    public const long FactoredChunkBytes = 256L << 20;
}
