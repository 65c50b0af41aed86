using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The fitted Gaussian-process posterior of a regression: predictive mean μ(x*) = m(x*) + J(x*) Δθ, with Δθ = s² Jᵀ α
/// the posterior-mean shift of the adapted parameters, and latent variance v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|².
/// State: Δθ (P values), s², σ², the constant mean (C values) and what the variance needs (see
/// <see cref="IPosteriorVariance"/>): dense, the training inputs as the adapted part of the network sees them and an
/// (N·C)² Cholesky factor, so 8 (P + (N·C)² + C + 2) bytes plus the inputs; function space, the inputs and an N·C × m
/// Lanczos root; weight space, a P × m basis and an m² factor. Predicting never refits.
/// </summary>
internal sealed class RegressionPosterior
{
    private const int PredictionBatch = 64;

    public RegressionPosterior(LinearizedNetwork network, PriorMean mean, double[] constantMean, double priorVariance,
                               double noiseVariance, Tensor parameterShift, IPosteriorVariance variance, FitReport report)
    {
        Network = network;
        Mean = mean;
        ConstantMean = constantMean;
        PriorVariance = priorVariance;
        NoiseVariance = noiseVariance;
        ParameterShift = parameterShift;
        Variance = variance;
        Report = report;
    }

    public LinearizedNetwork Network { get; }
    public PriorMean Mean { get; }
    public double[] ConstantMean { get; }
    public double PriorVariance { get; }
    public double NoiseVariance { get; }

    /// <summary>Δθ, [P] in float64; with independent outputs one row per output, [C, P].</summary>
    public Tensor ParameterShift { get; }

    public IPosteriorVariance Variance { get; }
    public FitReport Report { get; }

    public RegressionPrediction Predict(Tensor inputs)
    {
        using var scope = NewDisposeScope();
        var parts = DataBatches.Of(inputs.shape[0], PredictionBatch).Select(b => PredictBatch(inputs.narrow(0, b.Start, b.Length))).ToList();
        Tensor mean = cat(parts.Select(p => p.Mean).ToArray()), latent = cat(parts.Select(p => p.Latent).ToArray()).AtLeast(0);
        long clamped = parts.Sum(p => p.Latent.Below(0).sum().item<long>());
        return new RegressionPrediction(scope.MoveToOuter(mean), scope.MoveToOuter(latent), scope.MoveToOuter(latent.PlusConstant(NoiseVariance)), clamped);
    }

    private (Tensor Mean, Tensor Latent) PredictBatch(Tensor inputs)
    {
        using var x = new TestInputs(Network, inputs);
        Tensor latent = Variance.Latent(x);                       // first: the mean reuses the Jacobian rows it may compute
        return (PosteriorMean(x, Mean, ConstantMean, ParameterShift), latent);
    }

    /// <summary>μ(x*) = m(x*) + J(x*) Δθ, [B, C] in float64.</summary>
    internal static Tensor PosteriorMean(TestInputs x, PriorMean mean, double[] constant, Tensor parameterShift)
    {
        Tensor shift = x.MeanShift(parameterShift);
        Tensor prior = mean switch
        {
            PriorMean.Network => x.Output,
            PriorMean.Zero => zeros_like(shift),
            _ => tensor(constant, dtype: ScalarType.Float64).expand(shift.shape[0], shift.shape[1]),
        };
        return prior.Plus(shift);
    }
}
