using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>The hyperparameters a fit ended with, and how they were found.</summary>
internal sealed record LearnedHyperparameters(double PriorVariance, double NoiseVariance, double[] ConstantMean,
                                              double LogMarginalLikelihood, int Iterations, bool Converged, double NoiseFloor = 0)
{
    /// <summary>A warning when the learned σ² ended within 1 % of its floor (the likelihood wanted less noise), else null.</summary>
    public string? OnNoiseFloor() =>
        NoiseFloor > 0 && NoiseVariance <= 1.01 * NoiseFloor
            ? $"The learned noise variance sits on its floor (σ² = {NoiseVariance:G3}): the marginal likelihood would choose less noise. " +
              "Set NoiseVarianceFloor lower (0: pure maximum likelihood) if the targets are nearly noise-free, or give NoiseVariance."
            : null;

    /// <summary>Both values given by the user: nothing was learned, and the marginal likelihood was not computed (NaN).</summary>
    public static LearnedHyperparameters Given(double priorVariance, double noiseVariance, double[] constantMean) =>
        new(priorVariance, noiseVariance, constantMean, double.NaN, 0, true);

    /// <summary>A warning when the values left any plausible range (the likelihood was unbounded or badly estimated), else null.</summary>
    public string? Implausibility(double residualScale) =>
        NoiseVariance < 1e-10 * residualScale || PriorVariance > 1e12 || PriorVariance < 1e-12
            ? $"The learned hyperparameters are implausible (s² = {PriorVariance:G3}, σ² = {NoiseVariance:G3} for residuals of mean square " +
              $"{residualScale:G3}): the marginal likelihood estimate is unbounded here. Fix PriorVariance and NoiseVariance, or use more Lanczos steps."
            : null;
}

/// <summary>
/// Maximizes the log marginal likelihood over the free hyperparameters (those the user did not fix), in log space.
/// The surface can have a poor local maximum where the noise explains everything (measured: an NTK whose useful
/// scale was 10⁴ times the one its mean diagonal suggests), so the search first evaluates a grid (s² over e^±10 of
/// var(y − m) / mean k0(x, x), σ² from 0.1 % to 90 % of var(y − m)) and runs BFGS from the three best grid points.
/// Evaluations cost O(n) (exact) or O(probes × steps) (Lanczos), so the grid is cheap. Fixed values are kept as given. A
/// learned σ² is floor + e^v with the floor a fraction of var(y − m) (<see cref="HyperparameterSpec.NoiseFloor"/>), so the
/// search is smooth and never goes below it.
/// </summary>
internal static class HyperparameterLearning
{
    /// <param name="likelihood">The marginal likelihood to maximize.</param>
    /// <param name="spec">Which values are fixed, and the noise floor.</param>
    /// <param name="residual">y − m(X) (before a constant mean is profiled out): its variance places the grid, and its
    /// <see cref="FitWarnings.ResidualScale"/> sets the noise floor.</param>
    /// <param name="mean">The prior mean, which decides that scale.</param>
    /// <param name="meanKernelDiagonal">mean k0(x, x), which places the grid of s².</param>
    /// <param name="solver">Cancellation and progress.</param>
    public static LearnedHyperparameters Learn(IMarginalLikelihood likelihood, HyperparameterSpec spec, TorchSharp.torch.Tensor residual,
                                               PriorMean mean, double meanKernelDiagonal, SolverSettings solver)
    {
        spec.Validate();
        double residualVariance = residual.var().item<double>(), scale = FitWarnings.ResidualScale(residual, mean);
        var cancellation = solver.Cancellation;
        if (solver.Progress is not null) likelihood = new ReportingLikelihood(likelihood, solver);
        double variance = residualVariance > 0 && double.IsFinite(residualVariance) ? residualVariance : 1.0;
        double diagonal = meanKernelDiagonal > 0 && double.IsFinite(meanKernelDiagonal) ? meanKernelDiagonal : 1.0;
        double floor = spec.NoiseVariance is null && scale > 0 && double.IsFinite(scale) ? spec.NoiseFloor * scale : 0;
        var grid = new List<(double Prior, double Noise, double Value)>();
        foreach (double offset in spec.PriorVariance is null ? InferenceSettings.PriorGridOffsets : new[] { 0.0 })
            foreach (double fraction in spec.NoiseVariance is null ? InferenceSettings.NoiseGridFractions : new[] { 0.1 })
            {
                cancellation.ThrowIfCancellationRequested();
                double prior = spec.PriorVariance ?? variance / diagonal * Math.Exp(offset);
                double noise = spec.NoiseVariance ?? floor + fraction * variance;
                double value = likelihood.Evaluate(prior, noise).Value;
                if (double.IsFinite(value)) grid.Add((prior, noise, value));
            }
        if (grid.Count == 0) throw new InvalidOperationException("The marginal likelihood is not finite anywhere on the starting grid.");
        LearnedHyperparameters? best = null;
        foreach (var start in grid.OrderByDescending(g => g.Value).Take(InferenceSettings.HyperparameterStarts))
        {
            var candidate = FromStart(likelihood, spec, start.Prior, start.Noise, floor, cancellation);
            if (best is null || candidate.LogMarginalLikelihood > best.LogMarginalLikelihood) best = candidate;
        }
        return best!;
    }

    private static LearnedHyperparameters FromStart(IMarginalLikelihood likelihood, HyperparameterSpec spec,
                                                    double priorStart, double noiseStart, double floor, CancellationToken cancellation)
    {
        bool learnPrior = spec.PriorVariance is null, learnNoise = spec.NoiseVariance is null;
        (double Prior, double Noise) Unpack(double[] point)
        {
            int i = 0;
            double prior = learnPrior ? Math.Exp(point[i++]) : priorStart;
            double noise = learnNoise ? floor + Math.Exp(point[i]) : noiseStart;
            return (prior, noise);
        }
        var start = new List<double>();
        if (learnPrior) start.Add(Math.Log(priorStart));
        if (learnNoise) start.Add(Math.Log(noiseStart - floor));
        if (start.Count == 0) return Finish(likelihood, priorStart, noiseStart, 0, true, floor);

        var result = QuasiNewton.Maximize(point =>
        {
            var (prior, noise) = Unpack(point);
            var (value, dPrior, dNoise, _) = likelihood.Evaluate(prior, noise);
            var gradient = new List<double>();
            if (learnPrior) gradient.Add(dPrior * prior);   // d/d log s² = s² d/ds²
            if (learnNoise) gradient.Add(dNoise * (noise - floor));   // d/dv of σ² = floor + e^v
            return (value, gradient.ToArray());
        }, start.ToArray(), cancellation: cancellation);
        var (finalPrior, finalNoise) = Unpack(result.Point);
        return Finish(likelihood, finalPrior, finalNoise, result.Iterations, result.Converged, floor);
    }

    private static LearnedHyperparameters Finish(IMarginalLikelihood likelihood, double prior, double noise, int iterations, bool converged, double floor)
    {
        var (value, _, _, constant) = likelihood.Evaluate(prior, noise);
        return new LearnedHyperparameters(prior, noise, constant, value, iterations, converged, floor);
    }
}

/// <summary>Reports each evaluation of the marginal likelihood as a step of hyperparameter learning.</summary>
internal sealed class ReportingLikelihood(IMarginalLikelihood inner, SolverSettings solver) : IMarginalLikelihood
{
    private int evaluations;

    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double priorVariance, double noiseVariance)
    {
        var result = inner.Evaluate(priorVariance, noiseVariance);
        int step = ++evaluations;
        solver.Report(SolverPhase.Searching, step,
                      () => $"marginal likelihood {result.Value:F3} at s² = {priorVariance:G4}, σ² = {noiseVariance:G4}");
        return result;
    }
}
