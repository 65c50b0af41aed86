using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The log marginal likelihood by Lanczos quadrature, for every (s², σ²) from one tridiagonalization of K0: the Krylov
/// spaces of s² K0 + σ² I and K0 coincide and T(s² K0 + σ² I) = s² T + σ² I. The quadratic term rᵀ (s² K0 + σ² I)⁻¹ r
/// starts from the residual r; log det(s² K0 + σ² I) is averaged over Rademacher probes (stochastic Lanczos quadrature).
/// Derivatives follow from the same sums. A constant mean is held at the value given (not profiled).
/// </summary>
internal sealed class LanczosMarginalLikelihood : IMarginalLikelihood
{
    private readonly LanczosQuadrature quadrature;
    private readonly long size;
    private readonly double[] constant;

    public LanczosMarginalLikelihood(LinearOperator kernel, Tensor residual, int probes, int steps, int seed, double[] constant)
    {
        size = kernel.Rows;
        this.constant = constant;
        quadrature = new LanczosQuadrature(kernel, residual, probes, steps, seed);
    }

    /// <summary>The Lanczos basis Q [n, m] of the residual's Krylov space, for a low-rank variance root.</summary>
    public Tensor Basis => quadrature.Basis;

    /// <summary>T of K0 from the residual, [m, m].</summary>
    public Tensor ResidualTridiagonal => quadrature.Tridiagonal;

    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double priorVariance, double noiseVariance)
    {
        var (quadratic, quadraticPrior, quadraticNoise) = QuadratureNodes.Sum(quadrature.VectorNodes, priorVariance, noiseVariance, inverse: true);
        var (logDet, logDetPrior, logDetNoise) = quadrature.ProbeAverage(priorVariance, noiseVariance, inverse: false);
        double lml = -0.5 * quadratic - 0.5 * logDet - 0.5 * size * Math.Log(2 * Math.PI);
        return (lml, -0.5 * quadraticPrior - 0.5 * logDetPrior, -0.5 * quadraticNoise - 0.5 * logDetNoise, constant);
    }
}
