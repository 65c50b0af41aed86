using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// One Lanczos run of a positive semi-definite operator A from a vector v and k Rademacher probes z_j: Gauss
/// quadrature nodes for vᵀ g(s² A + σ² I) v and for the probe average of z_jᵀ g(s² A + σ² I) z_j, for any (s², σ²),
/// plus v's Krylov basis Q and tridiagonal T (for a low-rank variance root).
/// </summary>
internal sealed class LanczosQuadrature
{
    private readonly (double Weight, double Node)[][] probeNodes;

    public LanczosQuadrature(LinearOperator a, Tensor vector, int probes, int steps, int seed)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        Tensor z = randint(0, 2, new long[] { a.Rows, probes }, generator: generator, dtype: ScalarType.Float64).Times(2).PlusConstant(-1);
        Tensor starts = cat(new[] { vector.to(ScalarType.Float64).reshape(-1, 1), z }, 1);
        var lanczos = Lanczos.Tridiagonalize(a, starts, steps);
        Tensor norms = starts.Squared().sum(dim: 0);
        var nodes = Enumerable.Range(0, probes + 1).Select(j => QuadratureNodes.Of(lanczos.Tridiagonal(j), norms[j].item<double>())).ToArray();
        VectorNodes = nodes[0];
        probeNodes = nodes[1..];
        Basis = scope.MoveToOuter(lanczos.Basis[.., 0, ..].clone());
        Tridiagonal = scope.MoveToOuter(lanczos.Tridiagonal(0));
    }

    /// <summary>Nodes for vᵀ g(·) v.</summary>
    public (double Weight, double Node)[] VectorNodes { get; }

    /// <summary>Q [n, m]: v's Krylov basis.</summary>
    public Tensor Basis { get; }

    /// <summary>T = Qᵀ A Q from v, [m, m].</summary>
    public Tensor Tridiagonal { get; }

    /// <summary>The probe average of Σ w g(s²θ + σ²) and its derivatives (zeros without probes).</summary>
    public (double Value, double DPrior, double DNoise) ProbeAverage(double s2, double n2, bool inverse)
    {
        double value = 0, prior = 0, noise = 0;
        foreach (var probe in probeNodes)
        {
            var (v, p, n) = QuadratureNodes.Sum(probe, s2, n2, inverse);
            value += v / probeNodes.Length;
            prior += p / probeNodes.Length;
            noise += n / probeNodes.Length;
        }
        return (value, prior, noise);
    }
}
