using Microsoft.ML.Ntk.Linearization.Tangents;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>One way to compute J·V and Jᵀ·U on one batch of inputs.</summary>
internal interface IJacobianProducts
{
    /// <summary>
    /// J(x)·V for the tangents of the adapted parameters, given per parameter as [k, *shape].
    /// Returns [k, B, C]: how the B×C outputs move along each of the k tangents.
    /// </summary>
    Tensor Jvp(Tensor x, Tensor[] parameterTangents, PrimalTape? tape);

    /// <summary>J(x)ᵀ·U for cotangents U of shape [k, B, C]; returns [k, P].</summary>
    Tensor Vjp(Tensor x, Tensor cotangents, PrimalTape? tape);

    /// <summary>Whether a primal tape saves work on later passes over the same batch.</summary>
    bool UsesPrimalTape { get; }
}
