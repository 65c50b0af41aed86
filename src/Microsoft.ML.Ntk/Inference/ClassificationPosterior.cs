using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Class probabilities [B, C], the latent mean [B, C] and each class's latent variance [B, C], in float64. Latent variances
/// that rounding made negative are clamped to zero and counted.
/// </summary>
internal sealed record ClassificationPrediction(Tensor Probabilities, Tensor LatentMean, Tensor LatentVariance, long ClampedVariances = 0);

/// <summary>
/// A binary prediction, each [B] in float64: the posterior mean of the positive class's log-odds, its variance (clamped at
/// zero) and the probability of the positive class.
/// </summary>
internal sealed record BinaryPrediction(Tensor LogOdds, Tensor Variance, Tensor Probability);

/// <summary>
/// The fitted classification posterior: latent f(x*) ~ N(m(x*) + J(x*) Δθ̂, Σ*) with Σ* from the Laplace (softmax) or
/// the regression (Gaussian one-hot) posterior; probabilities by the probit approximation or Monte Carlo over the full
/// C×C covariance. Same state as the regression posterior: Δθ̂, s², and what the variance needs. With one output the
/// latent value is the positive class's log-odds (<see cref="SoftmaxLink"/>).
/// </summary>
internal sealed class ClassificationPosterior
{
    private const int PredictionBatch = 64;

    public ClassificationPosterior(LinearizedNetwork network, PriorMean mean, double priorVariance, Tensor parameterShift,
                                   IPosteriorVariance variance, ClassificationSettings settings, FitReport report)
    {
        Network = network;
        Mean = mean;
        PriorVariance = priorVariance;
        ParameterShift = parameterShift;
        Variance = variance;
        Settings = settings;
        Report = report;
    }

    public LinearizedNetwork Network { get; }
    public PriorMean Mean { get; }
    public double PriorVariance { get; }
    public Tensor ParameterShift { get; }
    public IPosteriorVariance Variance { get; }
    public ClassificationSettings Settings { get; }
    public FitReport Report { get; }

    public ClassificationPrediction Predict(Tensor inputs)
    {
        using var scope = NewDisposeScope();
        var parts = DataBatches.Of(inputs.shape[0], PredictionBatch).Select(b => PredictBatch(inputs.narrow(0, b.Start, b.Length))).ToList();
        return new ClassificationPrediction(scope.MoveToOuter(cat(parts.Select(p => p.Probabilities).ToArray())),
                                            scope.MoveToOuter(cat(parts.Select(p => p.LatentMean).ToArray())),
                                            scope.MoveToOuter(cat(parts.Select(p => p.LatentVariance).ToArray())),
                                            parts.Sum(p => p.ClampedVariances));
    }

    private ClassificationPrediction PredictBatch(Tensor inputs)
    {
        using var x = new TestInputs(Network, inputs);
        bool probit = Settings.Predictive == PredictiveApproximation.Probit || Settings.Likelihood == ClassificationLikelihood.Gaussian;
        Tensor latent = probit ? Variance.Latent(x) : Variance.Covariance(x);     // first: the mean reuses the Jacobian rows
        Tensor mean = RegressionPosterior.PosteriorMean(x, Mean, Array.Empty<double>(), ParameterShift);
        if (probit)
        {
            Tensor raw = latent;
            long clamped = raw.Below(0).sum().item<long>();
            Tensor variance = raw.AtLeast(0);
            Tensor probabilities = Settings.Likelihood == ClassificationLikelihood.Gaussian
                ? mean.softmax(1)                                                    // documented approximation
                : SoftmaxPredictive.Probit(mean, variance);
            return new ClassificationPrediction(probabilities, mean, variance, clamped);
        }
        Tensor covariance = latent;                                                     // [B, C, C]
        Tensor diagonal = covariance.diagonal(0, 1, 2);
        return new ClassificationPrediction(SoftmaxPredictive.MonteCarlo(mean, covariance, Settings.MonteCarloSamples, Settings.Seed), mean, diagonal.AtLeast(0), diagonal.Below(0).sum().item<long>());
    }

    /// <summary>
    /// The positive class's log-odds at the inputs: the latent value of a one-output network, or f₁ − f₀ of a two-output one
    /// (its variance from the 2×2 covariance); P(positive) by the probit approximation or Monte Carlo on that one value.
    /// </summary>
    public BinaryPrediction PredictBinary(Tensor inputs)
    {
        using var scope = NewDisposeScope();
        var parts = DataBatches.Of(inputs.shape[0], PredictionBatch).Select(b => PredictBinaryBatch(inputs.narrow(0, b.Start, b.Length))).ToList();
        return new BinaryPrediction(scope.MoveToOuter(cat(parts.Select(p => p.LogOdds).ToArray())),
                                    scope.MoveToOuter(cat(parts.Select(p => p.Variance).ToArray())),
                                    scope.MoveToOuter(cat(parts.Select(p => p.Probability).ToArray())));
    }

    private BinaryPrediction PredictBinaryBatch(Tensor inputs)
    {
        using var x = new TestInputs(Network, inputs);
        Tensor latent = Variance.Covariance(x);                                            // [B, C, C]
        Tensor mean = RegressionPosterior.PosteriorMean(x, Mean, Array.Empty<double>(), ParameterShift);
        long c = mean.shape[1];
        if (c is not (1 or 2)) throw new InvalidOperationException($"A binary prediction needs one or two outputs; the network has {c}.");
        Tensor logOdds = c == 1 ? mean[.., 0] : mean[.., 1] - mean[.., 0];
        Tensor variance = (c == 1 ? latent[.., 0, 0] : latent[.., 0, 0].Plus(latent[.., 1, 1]) - latent[.., 0, 1] - latent[.., 1, 0]).AtLeast(0);
        if (Settings.Predictive == PredictiveApproximation.Probit) return new BinaryPrediction(logOdds, variance, SoftmaxPredictive.ProbitScaled(logOdds, variance).sigmoid());
        Tensor z = SoftmaxPredictive.Draws(Settings.MonteCarloSamples, 1, Settings.Seed, logOdds.device);                                                             // [S, 1], shared by the rows
        Tensor probability = logOdds.unsqueeze(0).Plus(variance.sqrt().unsqueeze(0) * z).sigmoid().mean(new long[] { 0 });
        return new BinaryPrediction(logOdds, variance, probability);
    }
}
