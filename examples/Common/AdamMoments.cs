using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// Adam's moment estimates (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, as torch.optim.Adam, in the same order of operations) for the
/// examples' training loops, with every constant an explicit Scalar that stays alive across its native call. TorchSharp's
/// own optimizer turns its constants into temporary Scalars, which the garbage collector may finalize while libtorch still
/// reads them (a fine-tuning run of thousands of steps then fails now and then, or the process crashes).
/// </summary>
public sealed class AdamMoments : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    private readonly Scalar beta1 = Beta1.ToScalar(), rest1 = (1 - Beta1).ToScalar();
    private readonly Scalar beta2 = Beta2.ToScalar(), rest2 = (1 - Beta2).ToScalar(), epsilon = Epsilon.ToScalar();
    private readonly Tensor[] first, second;
    private readonly long[] steps;

    /// <summary>Zero moments for each of <paramref name="parameters"/>.</summary>
    public AdamMoments(IReadOnlyList<Tensor> parameters)
    {
        first = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        second = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        steps = new long[parameters.Count];
    }

    /// <summary>
    /// Takes gradient <paramref name="i"/> into the moments of parameter i and returns its update direction m_t / (√v̂_t + ε)
    /// (m_t not yet divided by its bias correction, which <see cref="FirstCorrection"/> gives) as (m_t, √v̂_t + ε).
    /// </summary>
    public (Tensor First, Tensor Denominator) Advance(int i, Tensor gradient)
    {
        steps[i]++;
        first[i].mul_(beta1).add_(gradient, rest1);
        second[i].mul_(beta2).addcmul_(gradient, gradient, rest2);
        using var correction2 = Math.Sqrt(1 - Math.Pow(Beta2, steps[i])).ToScalar();
        return (first[i], second[i].sqrt().div_(correction2).add_(epsilon, HeldScalars.One));
    }

    /// <summary>1 − β₁ᵗ for parameter <paramref name="i"/> after its last <see cref="Advance"/>.</summary>
    public double FirstCorrection(int i) => 1 - Math.Pow(Beta1, steps[i]);

    public void Dispose()
    {
        foreach (var t in first.Concat(second)) t.Dispose();
        foreach (var s in new[] { beta1, rest1, beta2, rest2, epsilon }) s.Dispose();
    }
}
