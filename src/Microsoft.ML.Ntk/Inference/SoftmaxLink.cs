using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// How latent values [N, C] give class probabilities. C ≥ 2: a softmax over the outputs. C = 1: the output is the log-odds
/// of the positive class (a Bernoulli likelihood, the softmax of two classes with an implicit zero logit for the negative
/// one), p = σ(f). Everything else of the Laplace approximation (gradient y − p, curvature p(1 − p), evidence, variance) is
/// the same formula for both, so the binary case is the softmax code with this link.
/// </summary>
internal static class SoftmaxLink
{
    /// <summary>The label rows: one-hot [N, C], or for one output [N, 1] holding 1 for the positive class and 0 otherwise.</summary>
    public static Tensor Targets(Tensor labels, long outputs) =>
        outputs == 1 ? labels.to(ScalarType.Float64).unsqueeze(1) : nn.functional.one_hot(labels, outputs).to(ScalarType.Float64);

    /// <summary>The largest label index: C − 1, or 1 for one output (negative 0, positive 1).</summary>
    public static long LastLabel(long outputs) => Math.Max(outputs - 1, 1);

    /// <summary>p [N, C]: softmax along <paramref name="dim"/>, or σ(f) for one output.</summary>
    public static Tensor Probabilities(Tensor latent, long dim = 1) => latent.shape[dim] == 1 ? latent.sigmoid() : latent.softmax(dim);

    /// <summary>−log p(y | f) summed over the rows: −Σ y·log softmax(f), or Σ softplus(f) − y f for one output.</summary>
    public static double NegativeLogLikelihood(Tensor latent, Tensor targets)
    {
        using var scope = NewDisposeScope();
        if (latent.shape[1] == 1)
            return -(targets * nn.functional.logsigmoid(latent)).Plus(targets.ConstantMinus(1) * nn.functional.logsigmoid(latent.neg())).sum().item<double>();
        return -(targets * latent.log_softmax(1)).sum().item<double>();
    }
}
