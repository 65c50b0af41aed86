using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// Scalars that stay alive across their native calls. TorchSharp turns constants into temporary Scalars (the alpha 1 of
/// tensor + tensor, the factor of x * 0.5), which the garbage collector may free while libtorch still reads them; the
/// examples' loops pass a Scalar held for the process's lifetime, or one disposed after its call.
/// </summary>
public static class HeldScalars
{
    /// <summary>1, for the alpha of a + b.</summary>
    public static readonly Scalar One = 1.0.ToScalar();

    /// <summary>Runs an operation with <paramref name="value"/> as an explicit Scalar, disposed after the call (so alive during it).</summary>
    public static Tensor With(double value, Func<Scalar, Tensor> operation)
    {
        using var scalar = value.ToScalar();
        return operation(scalar);
    }
}
