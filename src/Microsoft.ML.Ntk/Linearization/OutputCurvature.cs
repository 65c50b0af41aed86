using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Λ, the Hessian of the negative log likelihood with respect to the network outputs, one C×C block per
/// input; the Gauss–Newton product is Jᵀ Λ J v.
/// </summary>
internal abstract class OutputCurvature
{
    /// <summary>Gaussian likelihood with unit noise: Λ = I.</summary>
    public static OutputCurvature Identity { get; } = new IdentityCurvature();

    /// <summary>Softmax likelihood: Λ_i = diag(p_i) − p_i p_iᵀ for class probabilities p of shape [N, C].</summary>
    public static OutputCurvature Softmax(Tensor probabilities) => new SoftmaxCurvature(probabilities);

    /// <summary>Λ applied to u of shape [k, B, C], for the B inputs that start at row <paramref name="start"/>.</summary>
    public abstract Tensor Apply(Tensor u, long start);

    private sealed class IdentityCurvature : OutputCurvature
    {
        public override Tensor Apply(Tensor u, long start) => u;
    }

    private sealed class SoftmaxCurvature(Tensor probabilities) : OutputCurvature
    {
        public override Tensor Apply(Tensor u, long start)
        {
            Tensor p = probabilities.narrow(0, start, u.shape[1]).to(u.dtype).to(u.device);
            return p * u - p * (p * u).sum(-1, keepdim: true);
        }
    }
}
