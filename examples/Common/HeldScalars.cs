using TorchSharp;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// Scalars held for the process's lifetime, never finalized: TorchSharp's tensor + tensor makes a temporary Scalar 1 (its
/// alpha), which the garbage collector may free while libtorch reads it; the training loops pass this one instead.
/// </summary>
public static class HeldScalars
{
    /// <summary>1, for the alpha of a + b.</summary>
    public static readonly Scalar One = 1.0.ToScalar();
}
