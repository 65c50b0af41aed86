using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// What a softmax fit needs of its final Laplace mode, whichever solver found it: the weights a [N·C] (Δθ̂ = s² Jᵀ a),
/// the evidence, how Newton's method ended, the jitter its factorization needed, and the predictive variance built from
/// the factors at the mode.
/// </summary>
internal interface ISoftmaxMode
{
    Tensor Weights { get; }
    double Evidence { get; }
    int NewtonIterations { get; }
    double GradientNorm { get; }
    double InitialGradientNorm { get; }
    bool Converged { get; }
    bool Stagnated { get; }
    double Jitter { get; }

    /// <summary>The tensors the mode and its variance hold (for moving them out of a dispose scope).</summary>
    IEnumerable<Tensor> Tensors { get; }

    /// <summary>
    /// The latent covariance [B, C, C] at B inputs given by their kernel, in the layout of the mode's kernel: with independent
    /// outputs the cross kernel by class [C, N, B] and the prior variances [B, C]; with the full kernel the cross kernel
    /// [N·C, B·C] and the prior C×C blocks [B, C, C].
    /// </summary>
    Tensor Covariance(Tensor cross, Tensor own, double priorVariance);

    /// <summary>
    /// The latent predictive variance at this mode for the training inputs and s². <paramref name="trainingRows"/>: the
    /// training Jacobian by output [C, N, P] the fit formed for its kernel, or null; a form whose predictions use that
    /// Jacobian keeps it (detached from the fit's dispose scope) instead of forming it again.
    /// </summary>
    IPosteriorVariance Variance(LinearizedNetwork network, PreparedInputs training, double priorVariance, Tensor? trainingRows = null);
}
