using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>One way to compute Jacobian–vector products J·V on one batch of inputs.</summary>
internal interface ITangentMethod
{
    /// <summary>
    /// J(x)·V for the tangents of the adapted parameters, given per parameter as [k, *shape].
    /// Returns [k, B, C]: how the B×C outputs move along each of the k tangents.
    /// </summary>
    Tensor Jvp(Tensor x, Tensor[] parameterTangents);
}
