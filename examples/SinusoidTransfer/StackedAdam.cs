using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.Sinusoid;

/// <summary>
/// Adam (<see cref="AdamMoments"/>) on stacked tensors [M, ...] with one learning rate per copy, so that every candidate learning
/// rate trains in the same loop. Each copy's update depends on its own gradients only.
/// </summary>
public sealed class StackedAdam : IDisposable
{
    private readonly Tensor[] parameters;
    private readonly AdamMoments moments;
    private readonly Tensor rates;

    /// <summary>Adam on <paramref name="parameters"/> (each [M, ...]) with learning rate rates[m] for copy m.</summary>
    public StackedAdam(Tensor[] parameters, double[] rates)
    {
        this.parameters = parameters;
        moments = new AdamMoments(parameters);
        this.rates = tensor(rates.Select(r => (float)r).ToArray()).reshape(-1, 1, 1).DetachFromDisposeScope();
    }

    /// <summary>One step down the gradients of <paramref name="loss"/> (the sum of the copies' losses).</summary>
    public void Step(Tensor loss)
    {
        var gradients = autograd.grad(new[] { loss }, parameters);
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Length; i++)
        {
            var (first, denominator) = moments.Advance(i, gradients[i]);
            using var correction1 = moments.FirstCorrection(i).ToScalar();
            parameters[i].sub_(first.div(denominator).mul_(rates.div(correction1)));
        }
    }

    public void Dispose()
    {
        moments.Dispose();
        rates.Dispose();
    }
}
