using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization.Tangents;

/// <summary>Element-wise activations: y = σ(a), ẏ = σ'(a) ȧ, with σ' written out for each.</summary>
internal static class ActivationDerivatives
{
    public static bool IsKnown(nn.Module module) =>
        module is ReLU or LeakyReLU or TorchSharp.Modules.Tanh or TorchSharp.Modules.Sigmoid or ELU or GELU or SiLU
               or TorchSharp.Modules.Softplus;

    public static (Tensor, Tensor?) Propagate(nn.Module module, Tensor a, Tensor? aDot, PropagationContext context) =>
        Apply(a, aDot, context, () => Evaluate(module, a));

    public static (Tensor, Tensor?) Relu(Tensor a, Tensor? aDot, PropagationContext context) =>
        Apply(a, aDot, context, () => (nn.functional.relu(a), () => (a > 0).to(a.dtype)));

    /// <summary>The activation's output and a function that gives its slope σ'(a).</summary>
    public static (Tensor Output, Func<Tensor> Slope) Evaluate(nn.Module module, Tensor a) => module switch
    {
        ReLU => (nn.functional.relu(a), () => (a > 0).to(a.dtype)),
        LeakyReLU leaky => (nn.functional.leaky_relu(a, leaky.negative_slope), () => where(a > 0, ones_like(a), full_like(a, leaky.negative_slope))),
        TorchSharp.Modules.Tanh => Tanh(a),
        TorchSharp.Modules.Sigmoid => Sigmoid(a),
        ELU elu => Elu(a, elu.alpha),
        GELU gelu => gelu.approximate == GELU.Approximate.tanh ? GeluTanh(a) : Gelu(a),
        SiLU => Silu(a),
        TorchSharp.Modules.Softplus softplus => Softplus(a, softplus.beta, softplus.threshold),
        _ => throw new NotSupportedException($"No derivative for activation {module.GetType().Name}."),
    };

    /// <summary>The slope is kept (on the tape) only where tangents flow, i.e. after an adapted parameter.</summary>
    private static (Tensor, Tensor?) Apply(Tensor a, Tensor? aDot, PropagationContext context, Func<(Tensor Output, Func<Tensor> Slope)> evaluate)
    {
        Func<Tensor>? slopeOf = null;
        Tensor y = context.Primal(() =>
        {
            var (output, slope) = evaluate();
            slopeOf = slope;
            return output;
        });
        if (!context.SeenAdapted) return (y, aDot);
        Tensor slope = context.Primal(() => (slopeOf ?? evaluate().Slope)(), differentiable: false);
        return (y, aDot is null ? null : aDot * slope);
    }

    private static (Tensor, Func<Tensor>) Tanh(Tensor a)
    {
        Tensor y = a.tanh();
        return (y, () => 1 - y.square());
    }

    private static (Tensor, Func<Tensor>) Sigmoid(Tensor a)
    {
        Tensor y = a.sigmoid();
        return (y, () => y * (1 - y));
    }

    /// <summary>α(exp(a) − 1) below zero, whose derivative there is y + α.</summary>
    private static (Tensor, Func<Tensor>) Elu(Tensor a, double alpha)
    {
        Tensor y = nn.functional.elu(a, alpha);
        return (y, () => where(a > 0, ones_like(a), y + alpha));
    }

    /// <summary>a Φ(a): derivative Φ(a) + a φ(a).</summary>
    private static (Tensor, Func<Tensor>) Gelu(Tensor a)
    {
        Tensor cdf = 0.5 * (1 + special.erf(a / Math.Sqrt(2)));
        return (a * cdf, () => cdf + a * (-0.5 * a.square()).exp() / Math.Sqrt(2 * Math.PI));
    }

    /// <summary>0.5 a (1 + tanh u), u = sqrt(2/π)(a + 0.044715 a³).</summary>
    private static (Tensor, Func<Tensor>) GeluTanh(Tensor a)
    {
        double c = Math.Sqrt(2 / Math.PI);
        Tensor t = (c * (a + 0.044715 * a.pow(3))).tanh();
        return (0.5 * a * (1 + t), () => 0.5 * (1 + t) + 0.5 * a * (1 - t.square()) * c * (1 + 3 * 0.044715 * a.square()));
    }

    /// <summary>a σ(a): derivative σ(a)(1 + a(1 − σ(a))).</summary>
    private static (Tensor, Func<Tensor>) Silu(Tensor a)
    {
        Tensor s = a.sigmoid();
        return (a * s, () => s * (1 + a * (1 - s)));
    }

    /// <summary>log(1 + exp(βa))/β, linear where βa exceeds the threshold: derivative σ(βa) or 1.</summary>
    private static (Tensor, Func<Tensor>) Softplus(Tensor a, double beta, double threshold)
    {
        Tensor y = nn.functional.softplus(a, beta, threshold);
        return (y, () => where(a * beta > threshold, ones_like(a), (a * beta).sigmoid()));
    }
}
