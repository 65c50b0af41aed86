using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>Element-wise activations: y = σ(a), ẏ = σ'(a) ȧ, with σ' written out for each.</summary>
internal static class ActivationDerivatives
{
    public static bool IsKnown(nn.Module module) =>
        module is ReLU or LeakyReLU or TorchSharp.Modules.Tanh or TorchSharp.Modules.Sigmoid or ELU or GELU or SiLU or TorchSharp.Modules.Softplus;

    public static (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot)
    {
        (Tensor y, Lazy<Tensor> slope) = module switch
        {
            ReLU => (nn.functional.relu(a), Slope(() => (a > 0).to(a.dtype))),
            LeakyReLU leaky => LeakyReluPair(a, leaky.negative_slope),
            TorchSharp.Modules.Tanh => TanhPair(a),
            TorchSharp.Modules.Sigmoid => SigmoidPair(a),
            ELU elu => EluPair(a, elu.alpha),
            GELU gelu => gelu.approximate == GELU.Approximate.tanh ? GeluTanhPair(a) : GeluPair(a),
            SiLU => SiluPair(a),
            TorchSharp.Modules.Softplus softplus => SoftplusPair(a, softplus.beta, softplus.threshold),
            _ => throw new NotSupportedException($"No derivative for activation {module.GetType().Name}."),
        };
        return (y, aDot is null ? null : aDot * slope.Value);
    }

    public static (Tensor, Tensor?) Relu(Tensor a, Tensor? aDot) =>
        (nn.functional.relu(a), aDot is null ? null : aDot * (a > 0).to(a.dtype));

    private static Lazy<Tensor> Slope(Func<Tensor> derivative) => new(derivative);

    private static (Tensor, Lazy<Tensor>) LeakyReluPair(Tensor a, double negativeSlope) =>
        (nn.functional.leaky_relu(a, negativeSlope), Slope(() => where(a > 0, ones_like(a), full_like(a, negativeSlope))));

    private static (Tensor, Lazy<Tensor>) TanhPair(Tensor a)
    {
        Tensor y = a.tanh();
        return (y, Slope(() => 1 - y.square()));
    }

    private static (Tensor, Lazy<Tensor>) SigmoidPair(Tensor a)
    {
        Tensor y = a.sigmoid();
        return (y, Slope(() => y * (1 - y)));
    }

    /// <summary>α(exp(a) − 1) below zero, whose derivative there is y + α.</summary>
    private static (Tensor, Lazy<Tensor>) EluPair(Tensor a, double alpha)
    {
        Tensor y = nn.functional.elu(a, alpha);
        return (y, Slope(() => where(a > 0, ones_like(a), y + alpha)));
    }

    /// <summary>a Φ(a): derivative Φ(a) + a φ(a).</summary>
    private static (Tensor, Lazy<Tensor>) GeluPair(Tensor a)
    {
        Tensor cdf = 0.5 * (1 + special.erf(a / Math.Sqrt(2)));
        return (a * cdf, Slope(() => cdf + a * (-0.5 * a.square()).exp() / Math.Sqrt(2 * Math.PI)));
    }

    /// <summary>0.5 a (1 + tanh u), u = sqrt(2/π)(a + 0.044715 a³).</summary>
    private static (Tensor, Lazy<Tensor>) GeluTanhPair(Tensor a)
    {
        double c = Math.Sqrt(2 / Math.PI);
        Tensor t = (c * (a + 0.044715 * a.pow(3))).tanh();
        return (0.5 * a * (1 + t), Slope(() => 0.5 * (1 + t) + 0.5 * a * (1 - t.square()) * c * (1 + 3 * 0.044715 * a.square())));
    }

    /// <summary>a σ(a): derivative σ(a)(1 + a(1 − σ(a))).</summary>
    private static (Tensor, Lazy<Tensor>) SiluPair(Tensor a)
    {
        Tensor s = a.sigmoid();
        return (a * s, Slope(() => s * (1 + a * (1 - s))));
    }

    /// <summary>log(1 + exp(βa))/β, linear where βa exceeds the threshold: derivative σ(βa) or 1.</summary>
    private static (Tensor, Lazy<Tensor>) SoftplusPair(Tensor a, double beta, double threshold)
    {
        Tensor y = nn.functional.softplus(a, beta, threshold);
        return (y, Slope(() => where(a * beta > threshold, ones_like(a), (a * beta).sigmoid())));
    }
}
