using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The log marginal likelihood through the P × P Gauss–Newton matrix G = JᵀJ, for N·C ≫ P. With b = Jᵀ r, Woodbury and
/// Sylvester give rᵀ (s² J Jᵀ + σ² I)⁻¹ r = (rᵀr − s² bᵀ (s² G + σ² I)⁻¹ b) / σ² and
/// log det(s² J Jᵀ + σ² I) = (n − P) log σ² + log det(s² G + σ² I). Both are Lanczos quadratures of G: from b, and from
/// Rademacher probes in parameter space. One tridiagonalization serves every (s², σ²); the basis from b is kept for the
/// weight-space variance.
/// </summary>
internal sealed class WeightSpaceMarginalLikelihood : IMarginalLikelihood
{
    private readonly (double Weight, double Node)[] projectedNodes;
    private readonly (double Weight, double Node)[][] probeNodes;
    private readonly long outputs, parameters;
    private readonly double residualSquaredNorm;
    private readonly double[] constant;

    public WeightSpaceMarginalLikelihood(LinearOperator gaussNewton, Tensor projectedResidual, double residualSquaredNorm, long outputs,
                                         int probes, int steps, int seed, double[] constant)
    {
        using var scope = NewDisposeScope();
        parameters = gaussNewton.Rows;
        this.outputs = outputs;
        this.residualSquaredNorm = residualSquaredNorm;
        this.constant = constant;
        var generator = new Generator((ulong)seed);
        Tensor z = randint(0, 2, new long[] { parameters, probes }, generator: generator, dtype: ScalarType.Float64) * 2 - 1;
        Tensor starts = cat(new[] { projectedResidual.to(ScalarType.Float64).reshape(-1, 1), z }, 1);
        var lanczos = Lanczos.Tridiagonalize(gaussNewton, starts, steps);
        Tensor norms = starts.square().sum(dim: 0);
        var nodes = Enumerable.Range(0, probes + 1).Select(j => QuadratureNodes.Of(lanczos.Tridiagonal(j), norms[j].item<double>())).ToArray();
        projectedNodes = nodes[0];
        probeNodes = nodes[1..];
        Basis = scope.MoveToOuter(lanczos.Basis[.., 0, ..].clone());
        ProjectedTridiagonal = scope.MoveToOuter(lanczos.Tridiagonal(0));
    }

    /// <summary>Q [P, m]: the Lanczos basis of G from Jᵀ r.</summary>
    public Tensor Basis { get; }

    /// <summary>T = Qᵀ G Q, [m, m].</summary>
    public Tensor ProjectedTridiagonal { get; }

    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double s2, double n2)
    {
        var (q, qPrior, qNoise) = QuadratureNodes.Sum(projectedNodes, s2, n2, inverse: true);   // bᵀ (s²G + σ²I)⁻¹ b
        double remainder = residualSquaredNorm - s2 * q;
        double quadratic = remainder / n2;
        double quadraticPrior = (-q - s2 * qPrior) / n2;
        double quadraticNoise = -remainder / (n2 * n2) - s2 * qNoise / n2;

        double logDet = (outputs - parameters) * Math.Log(n2), logDetPrior = 0, logDetNoise = (outputs - parameters) / n2;
        foreach (var probe in probeNodes)
        {
            var (value, prior, noise) = QuadratureNodes.Sum(probe, s2, n2, inverse: false);
            logDet += value / probeNodes.Length;
            logDetPrior += prior / probeNodes.Length;
            logDetNoise += noise / probeNodes.Length;
        }
        double lml = -0.5 * quadratic - 0.5 * logDet - 0.5 * outputs * Math.Log(2 * Math.PI);
        return (lml, -0.5 * quadraticPrior - 0.5 * logDetPrior, -0.5 * quadraticNoise - 0.5 * logDetNoise, constant);
    }
}
