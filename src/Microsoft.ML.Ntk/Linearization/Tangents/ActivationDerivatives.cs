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
        Apply(a, aDot, context, () => (nn.functional.relu(a), () => a.Above(0).to(a.dtype)));

    /// <summary>The activation's output and a function that gives its slope σ'(a).</summary>
    public static (Tensor Output, Func<Tensor> Slope) Evaluate(nn.Module module, Tensor a) => module switch
    {
        ReLU => (nn.functional.relu(a), () => a.Above(0).to(a.dtype)),
        LeakyReLU leaky => (where(a.Above(0), a, a.Times(leaky.negative_slope)), () => where(a.Above(0), ones_like(a), ScalarSafe.FullLike(a, leaky.negative_slope))),
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
        return (y, () => y.Squared().ConstantMinus(1));
    }

    private static (Tensor, Func<Tensor>) Sigmoid(Tensor a)
    {
        Tensor y = a.sigmoid();
        return (y, () => y * y.ConstantMinus(1));
    }

    /// <summary>α(exp(a) − 1) below zero, whose derivative there is y + α.</summary>
    private static (Tensor, Func<Tensor>) Elu(Tensor a, double alpha)
    {
        Tensor y = where(a.Above(0), a, a.AtMost(0).expm1().Times(alpha));   // clamped: no overflow in the branch not taken
        return (y, () => where(a.Above(0), ones_like(a), y.PlusConstant(alpha)));
    }

    /// <summary>a Φ(a): derivative Φ(a) + a φ(a).</summary>
    private static (Tensor, Func<Tensor>) Gelu(Tensor a)
    {
        Tensor cdf = special.erf(a.Over(Math.Sqrt(2))).PlusConstant(1).Times(0.5);
        return (a * cdf, () => cdf.Plus((a * a.Squared().Times(-0.5).exp()).Over(Math.Sqrt(2 * Math.PI))));
    }

    /// <summary>0.5 a (1 + tanh u), u = sqrt(2/π)(a + 0.044715 a³).</summary>
    private static (Tensor, Func<Tensor>) GeluTanh(Tensor a)
    {
        double c = Math.Sqrt(2 / Math.PI);
        Tensor t = a.Plus(a.Power(3).Times(0.044715)).Times(c).tanh();
        Tensor onePlusT = t.PlusConstant(1);
        return (a.Times(0.5) * onePlusT,
                () => onePlusT.Times(0.5).Plus(a.Times(0.5 * c) * t.Squared().ConstantMinus(1) * a.Squared().Times(3 * 0.044715).PlusConstant(1)));
    }

    /// <summary>a σ(a): derivative σ(a)(1 + a(1 − σ(a))).</summary>
    private static (Tensor, Func<Tensor>) Silu(Tensor a)
    {
        Tensor s = a.sigmoid();
        return (a * s, () => s * (a * s.ConstantMinus(1)).PlusConstant(1));
    }

    /// <summary>log(1 + exp(βa))/β, linear where βa exceeds the threshold: derivative σ(βa) or 1.</summary>
    private static (Tensor, Func<Tensor>) Softplus(Tensor a, double beta, double threshold)
    {
        Tensor y = where(a.Times(beta).Above(threshold), a, a.Times(beta).AtMost(threshold).exp().log1p().Over(beta));
        return (y, () => where(a.Times(beta).Above(threshold), ones_like(a), a.Times(beta).sigmoid()));
    }
}
