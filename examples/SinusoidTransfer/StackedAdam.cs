using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.Sinusoid;

/// <summary>
/// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, as torch.optim.Adam) on stacked tensors [M, ...] with one learning rate per copy, so that
/// every candidate learning rate trains in the same loop. Each copy's update depends on its own gradients only.
/// </summary>
public sealed class StackedAdam
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    private readonly Tensor[] parameters, first, second;
    private readonly Tensor rates;
    private int step;

    /// <summary>Adam on <paramref name="parameters"/> (each [M, ...]) with learning rate rates[m] for copy m.</summary>
    public StackedAdam(Tensor[] parameters, double[] rates)
    {
        this.parameters = parameters;
        first = parameters.Select(p => zeros_like(p)).ToArray();
        second = parameters.Select(p => zeros_like(p)).ToArray();
        this.rates = tensor(rates.Select(r => (float)r).ToArray()).reshape(-1, 1, 1);
    }

    /// <summary>One step down the gradients of <paramref name="loss"/> (the sum of the copies' losses).</summary>
    public void Step(Tensor loss)
    {
        var gradients = autograd.grad(new[] { loss }, parameters);
        step++;
        double correction1 = 1 - Math.Pow(Beta1, step), correction2 = Math.Sqrt(1 - Math.Pow(Beta2, step));
        using var noGrad = no_grad();
        Tensor stepSizes = rates / correction1;
        for (int i = 0; i < parameters.Length; i++)
        {
            first[i].mul_(Beta1).add_(gradients[i], alpha: 1 - Beta1);
            second[i].mul_(Beta2).addcmul_(gradients[i], gradients[i], value: 1 - Beta2);
            Tensor denominator = second[i].sqrt().div_(correction2).add_(Epsilon);
            parameters[i].sub_(first[i].div(denominator).mul_(stepSizes));
        }
    }
}
