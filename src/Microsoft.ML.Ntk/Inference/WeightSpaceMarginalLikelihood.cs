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
    private readonly LanczosQuadrature quadrature;
    private readonly long outputs, parameters;
    private readonly double residualSquaredNorm;
    private readonly double[] constant;

    public WeightSpaceMarginalLikelihood(LinearOperator gaussNewton, Tensor projectedResidual, double residualSquaredNorm, long outputs,
                                         int probes, int steps, int seed, double[] constant)
    {
        parameters = gaussNewton.Rows;
        this.outputs = outputs;
        this.residualSquaredNorm = residualSquaredNorm;
        this.constant = constant;
        quadrature = new LanczosQuadrature(gaussNewton, projectedResidual, probes, steps, seed);
    }

    /// <summary>Q [P, m]: the Lanczos basis of G from Jᵀ r.</summary>
    public Tensor Basis => quadrature.Basis;

    /// <summary>T = Qᵀ G Q, [m, m].</summary>
    public Tensor ProjectedTridiagonal => quadrature.Tridiagonal;

    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double s2, double n2)
    {
        var (q, qPrior, qNoise) = QuadratureNodes.Sum(quadrature.VectorNodes, s2, n2, inverse: true);   // bᵀ (s²G + σ²I)⁻¹ b
        double remainder = residualSquaredNorm - s2 * q;
        double quadratic = remainder / n2;
        double quadraticPrior = (-q - s2 * qPrior) / n2;
        double quadraticNoise = -remainder / (n2 * n2) - s2 * qNoise / n2;

        var (probeLogDet, logDetPrior, probeLogDetNoise) = quadrature.ProbeAverage(s2, n2, inverse: false);
        double logDet = (outputs - parameters) * Math.Log(n2) + probeLogDet;
        double logDetNoise = (outputs - parameters) / n2 + probeLogDetNoise;
        double lml = -0.5 * quadratic - 0.5 * logDet - 0.5 * outputs * Math.Log(2 * Math.PI);
        return (lml, -0.5 * quadraticPrior - 0.5 * logDetPrior, -0.5 * quadraticNoise - 0.5 * logDetNoise, constant);
    }
}
