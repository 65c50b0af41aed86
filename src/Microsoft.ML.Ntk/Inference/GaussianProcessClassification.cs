using System.Diagnostics;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Classification with the linearized network. Softmax: the MAP of the linearized model by Newton's method, the Laplace
/// posterior in function space (explicit kernel), s² fixed or chosen by the Laplace evidence. Gaussian: regression on
/// one-hot targets (any regression strategy), probabilities by a softmax of the mean.
/// </summary>
internal static class GaussianProcessClassification
{
    public static ClassificationPosterior Fit(LinearizedNetwork network, Tensor inputs, Tensor labels, ClassificationSettings settings)
    {
        settings.Validate();
        var clock = Stopwatch.StartNew();
        var problem = new RegressionProblem(network, inputs, targets: null);
        CheckLabels(labels, problem.Count, problem.Outputs);
        return settings.Likelihood == ClassificationLikelihood.Gaussian
            ? FitGaussian(problem, labels, settings)
            : FitSoftmax(problem, labels, settings, clock);
    }

    private static ClassificationPosterior FitGaussian(RegressionProblem unlabelled, Tensor labels, ClassificationSettings settings)
    {
        Tensor onehot = nn.functional.one_hot(labels, unlabelled.Outputs).to(ScalarType.Float64);
        var problem = unlabelled.WithTargets(onehot);
        var regressionSettings = new RegressionSettings(settings.Mean, settings.PriorVariance, settings.NoiseVariance, settings.Strategy, settings.Solver,
                                                        Seed: settings.Seed, IndependentOutputs: settings.IndependentOutputs);
        var regression = GaussianProcessRegression.Fit(problem, regressionSettings);
        return new ClassificationPosterior(problem.Network, settings.Mean, regression.PriorVariance, regression.ParameterShift, regression.Variance,
                                           settings, regression.Report);
    }

    private static ClassificationPosterior FitSoftmax(RegressionProblem problem, Tensor labels, ClassificationSettings settings, Stopwatch clock)
    {
        var network = problem.Network;
        if (problem.Size > StrategyChoice.DenseLimit)
            throw new NotSupportedException($"The softmax Laplace posterior needs the explicit N·C × N·C kernel; N·C = {problem.Size} exceeds " +
                                            $"{StrategyChoice.DenseLimit}. Use the Gaussian likelihood for larger training sets.");
        // The evidence is compared between values of s²: solve each MAP tightly enough that its error does not decide.
        var solver = settings.SolverOrDefault with { Tolerance = Math.Min(settings.SolverOrDefault.Tolerance, 1e-9) };
        Tensor kernel = network.Kernel(problem.Inputs, problem.Inputs);
        if (settings.IndependentOutputs) kernel = OutputCoupling.Independent(kernel, problem.Outputs);
        Tensor prior = settings.Mean == PriorMean.Network ? problem.PretrainedOutputs.reshape(problem.Count, problem.Outputs) : zeros(problem.Count, problem.Outputs, dtype: ScalarType.Float64);

        Tensor? warm = null;
        int evaluated = 0;
        (SoftmaxMapResult Map, KernelInverseRoot Root, double Evidence, double Jitter) Evaluate(double s2)
        {
            var map = SoftmaxMap.Solve(network, problem.Inputs, prior, labels, s2, solver, warm, settings.IndependentOutputs);
            warm = map.Shift;
            var (root, logDet, jitter) = LaplaceApproximation.Factor(kernel, map.Probabilities, s2);
            double evidence = -map.Objective - 0.5 * logDet;   // the objective is CE + |Δθ|²/(2s²)
            solver.Report(NtkFitStage.LearningHyperparameters, ++evaluated, () => $"Laplace evidence {evidence:F3} at s² = {s2:G4}");
            return (map, root, evidence, jitter);
        }

        int evaluations = 0;
        double priorVariance = settings.PriorVariance ?? 0;
        var warnings = new List<string>();
        if (settings.PriorVariance is null)
        {
            double center = -Math.Log(Math.Max(kernel.diagonal().mean().item<double>(), 1e-300));
            var search = ScalarSearch.Maximize(u => Evaluate(Math.Exp(u)).Evidence, center);
            priorVariance = Math.Exp(search.Point);
            evaluations = search.Evaluations;
            if (search.AtEdge)
                warnings.Add($"The Laplace evidence is largest at the edge of the searched range (s² = {priorVariance:G3}): the labels " +
                             "add little beyond the prior mean, or need a prior variance outside e^±8 of 1/mean k0(x, x).");
        }
        var (final, finalRoot, evidence, finalJitter) = Evaluate(priorVariance);
        if (!final.Converged)
            warnings.Add($"Newton's method stopped after {final.NewtonIterations} iterations with a gradient norm of {final.GradientNorm:E2}.");
        var report = new FitReport(InferenceStrategy.Dense, priorVariance, NoiseVariance: 0, Array.Empty<double>(), evidence, evaluations,
                                   HyperparametersConverged: true, final.NewtonIterations, final.GradientNorm, final.Converged,
                                   finalJitter, clock.Elapsed, warnings);
        var variance = new KernelSpaceVariance(network, problem.Inputs, finalRoot, priorVariance, settings.IndependentOutputs);
        return new ClassificationPosterior(network, settings.Mean, priorVariance, final.Shift, variance, settings, report);
    }

    /// <summary>Labels must be integers 0 … C−1, one per input.</summary>
    internal static void CheckLabels(Tensor labels, long count, long classes)
    {
        if (labels.dim() != 1 || labels.shape[0] != count)
            throw new ArgumentException($"Expected {count} labels (one per input); got shape [{string.Join(", ", labels.shape)}].");
        if (labels.dtype != ScalarType.Int64) throw new ArgumentException($"Labels must be Int64 class indices; got {labels.dtype}.");
        Tensor bad = ((labels < 0) | (labels >= classes)).nonzero();
        if (bad.shape[0] > 0)
        {
            long row = bad[0, 0].item<long>();
            throw new ArgumentException($"Label {labels[row].item<long>()} at row {row} is outside 0…{classes - 1} (the network has {classes} outputs).");
        }
    }
}
