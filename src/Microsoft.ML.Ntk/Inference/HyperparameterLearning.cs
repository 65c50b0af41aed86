namespace Microsoft.ML.Ntk.Inference;

/// <summary>The hyperparameters a fit ended with, and how they were found.</summary>
internal sealed record LearnedHyperparameters(double PriorVariance, double NoiseVariance, double[] ConstantMean,
                                              double LogMarginalLikelihood, int Iterations, bool Converged);

/// <summary>
/// Maximizes the exact log marginal likelihood over the free hyperparameters (those the user did not fix), in
/// log space, from a few starting points: the kernel scaled to explain most of the residual variance, with noise
/// taking 1 %, 10 % or 50 % of it. Fixed values are kept as given.
/// </summary>
internal static class HyperparameterLearning
{
    private static readonly double[] NoiseFractions = { 0.01, 0.1, 0.5 };

    public static LearnedHyperparameters Learn(IMarginalLikelihood likelihood, HyperparameterSpec spec,
                                               double residualVariance, double meanKernelDiagonal, CancellationToken cancellation)
    {
        spec.Validate();
        double variance = residualVariance > 0 && double.IsFinite(residualVariance) ? residualVariance : 1.0;
        double diagonal = meanKernelDiagonal > 0 && double.IsFinite(meanKernelDiagonal) ? meanKernelDiagonal : 1.0;
        LearnedHyperparameters? best = null;
        foreach (double fraction in spec.NoiseVariance is null || spec.PriorVariance is null ? NoiseFractions : new[] { 0.1 })
        {
            double priorStart = spec.PriorVariance ?? (1 - fraction) * variance / diagonal;
            double noiseStart = spec.NoiseVariance ?? fraction * variance;
            var candidate = FromStart(likelihood, spec, priorStart, noiseStart, cancellation);
            if (best is null || candidate.LogMarginalLikelihood > best.LogMarginalLikelihood) best = candidate;
        }
        return best!;
    }

    private static LearnedHyperparameters FromStart(IMarginalLikelihood likelihood, HyperparameterSpec spec,
                                                    double priorStart, double noiseStart, CancellationToken cancellation)
    {
        bool learnPrior = spec.PriorVariance is null, learnNoise = spec.NoiseVariance is null;
        (double Prior, double Noise) Unpack(double[] point)
        {
            int i = 0;
            double prior = learnPrior ? Math.Exp(point[i++]) : priorStart;
            double noise = learnNoise ? Math.Exp(point[i]) : noiseStart;
            return (prior, noise);
        }
        var start = new List<double>();
        if (learnPrior) start.Add(Math.Log(priorStart));
        if (learnNoise) start.Add(Math.Log(noiseStart));
        if (start.Count == 0) return Finish(likelihood, priorStart, noiseStart, 0, true);

        var result = QuasiNewton.Maximize(point =>
        {
            var (prior, noise) = Unpack(point);
            var (value, dPrior, dNoise, _) = likelihood.Evaluate(prior, noise);
            var gradient = new List<double>();
            if (learnPrior) gradient.Add(dPrior * prior);   // d/d log s² = s² d/ds²
            if (learnNoise) gradient.Add(dNoise * noise);
            return (value, gradient.ToArray());
        }, start.ToArray(), cancellation: cancellation);
        var (finalPrior, finalNoise) = Unpack(result.Point);
        return Finish(likelihood, finalPrior, finalNoise, result.Iterations, result.Converged);
    }

    private static LearnedHyperparameters Finish(IMarginalLikelihood likelihood, double prior, double noise, int iterations, bool converged)
    {
        var (value, _, _, constant) = likelihood.Evaluate(prior, noise);
        return new LearnedHyperparameters(prior, noise, constant, value, iterations, converged);
    }
}
