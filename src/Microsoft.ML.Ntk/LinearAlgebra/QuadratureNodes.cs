using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// Gauss quadrature from a Lanczos tridiagonal T started at v: vᵀ g(A) v ≈ |v|² Σ_i τ_i² g(θ_i), with θ_i the
/// eigenvalues of T and τ_i the first components of its eigenvectors. Here g(λ) = 1/(s²λ + σ²) or log(s²λ + σ²).
/// </summary>
internal static class QuadratureNodes
{
    public static (double Weight, double Node)[] Of(Tensor tridiagonal, double squaredNorm)
    {
        var (values, vectors) = linalg.eigh(tridiagonal);
        double[] theta = values.AtLeast(0).data<double>().ToArray();
        double[] tau = vectors[0].data<double>().ToArray();
        return theta.Select((t, i) => (squaredNorm * tau[i] * tau[i], t)).ToArray();
    }

    /// <summary>Σ w g(s²θ + σ²) and its derivatives in s² and σ², for g = 1/d (inverse) or g = log d.</summary>
    public static (double Value, double DPrior, double DNoise) Sum((double Weight, double Node)[] nodes, double s2, double n2, bool inverse)
    {
        double value = 0, dPrior = 0, dNoise = 0;
        foreach (var (w, theta) in nodes)
        {
            double d = s2 * theta + n2;
            double slope = inverse ? -1 / (d * d) : 1 / d;
            value += w * (inverse ? 1 / d : Math.Log(d));
            dPrior += w * slope * theta;
            dNoise += w * slope;
        }
        return (value, dPrior, dNoise);
    }
}
