using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The log marginal likelihood by Lanczos quadrature, for every (s², σ²) from one tridiagonalization of K0: the Krylov
/// spaces of s² K0 + σ² I and K0 coincide and T(s² K0 + σ² I) = s² T + σ² I. From start vector v with T's eigenvalues
/// θ_i and first eigenvector components τ_i, vᵀ g(K0) v ≈ |v|² Σ τ_i² g(θ_i). The quadratic term rᵀ (s² K0 + σ² I)⁻¹ r
/// starts from the residual r; log det(s² K0 + σ² I) is averaged over Rademacher probes (stochastic Lanczos quadrature).
/// Derivatives follow from the same sums. A constant mean is held at the value given (not profiled).
/// </summary>
internal sealed class LanczosMarginalLikelihood : IMarginalLikelihood
{
    private readonly (double Weight, double Node)[] residualNodes;
    private readonly (double Weight, double Node)[][] probeNodes;
    private readonly int size;
    private readonly double[] constant;

    public LanczosMarginalLikelihood(LinearOperator kernel, Tensor residual, int probes, int steps, int seed, double[] constant)
    {
        using var scope = NewDisposeScope();
        size = (int)kernel.Rows;
        this.constant = constant;
        var generator = new Generator((ulong)seed);
        Tensor z = randint(0, 2, new long[] { size, probes }, generator: generator, dtype: ScalarType.Float64) * 2 - 1;
        Tensor starts = cat(new[] { residual.to(ScalarType.Float64).reshape(-1, 1), z }, 1);
        var lanczos = Lanczos.Tridiagonalize(kernel, starts, steps);
        Tensor norms = starts.square().sum(dim: 0);
        var nodes = Enumerable.Range(0, probes + 1).Select(j => QuadratureNodes.Of(lanczos.Tridiagonal(j), norms[j].item<double>())).ToArray();
        residualNodes = nodes[0];
        probeNodes = nodes[1..];
        Steps = lanczos.Steps;
        Basis = scope.MoveToOuter(lanczos.Basis[.., 0, ..].clone());
        ResidualTridiagonal = scope.MoveToOuter(lanczos.Tridiagonal(0));
    }

    public int Steps { get; }

    /// <summary>The Lanczos basis Q [n, Steps] of the residual's Krylov space, for a low-rank variance root.</summary>
    public Tensor Basis { get; }

    /// <summary>T of K0 from the residual, [Steps, Steps].</summary>
    public Tensor ResidualTridiagonal { get; }

    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double priorVariance, double noiseVariance)
    {
        var (quadratic, quadraticPrior, quadraticNoise) = QuadratureNodes.Sum(residualNodes, priorVariance, noiseVariance, inverse: true);
        double logDet = 0, logDetPrior = 0, logDetNoise = 0;
        foreach (var probe in probeNodes)
        {
            var (value, prior, noise) = QuadratureNodes.Sum(probe, priorVariance, noiseVariance, inverse: false);
            logDet += value / probeNodes.Length;
            logDetPrior += prior / probeNodes.Length;
            logDetNoise += noise / probeNodes.Length;
        }
        double lml = -0.5 * quadratic - 0.5 * logDet - 0.5 * size * Math.Log(2 * Math.PI);
        return (lml, -0.5 * quadraticPrior - 0.5 * logDetPrior, -0.5 * quadraticNoise - 0.5 * logDetNoise, constant);
    }
}
