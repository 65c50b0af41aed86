using System.Diagnostics;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Classification with the linearized network. Softmax: the mode of the Laplace approximation by Newton's method on the
/// N·C latent values with the explicit kernel (<see cref="LatentLaplace"/>), Δθ̂ = s² Jᵀ â by one backward product at the
/// end, s² fixed or chosen by the Laplace evidence; with one output the Bernoulli likelihood of the log-odds. Gaussian: regression on
/// one-hot targets (any regression strategy), probabilities by a softmax of the mean.
/// </summary>
internal static class GaussianProcessClassification
{
    public static ClassificationPosterior Fit(LinearizedNetwork network, Tensor inputs, Tensor labels, ClassificationSettings settings)
    {
        settings.Validate();
        var clock = Stopwatch.StartNew();
        using var problem = new RegressionProblem(network, inputs, targets: null);
        CheckLabels(labels, problem.Count, problem.Outputs);
        return settings.Likelihood == ClassificationLikelihood.Gaussian
            ? FitGaussian(problem, labels, settings)
            : FitSoftmax(problem, labels, settings, clock);
    }

    private static ClassificationPosterior FitGaussian(RegressionProblem unlabelled, Tensor labels, ClassificationSettings settings)
    {
        if (unlabelled.Outputs == 1)
            throw new NotSupportedException("The Gaussian likelihood regresses one output per class; a network of one output (a log-odds) needs the softmax likelihood.");
        Tensor onehot = nn.functional.one_hot(labels, unlabelled.Outputs).to(ScalarType.Float64);
        var problem = unlabelled.WithTargets(onehot);
        var regression = GaussianProcessRegression.Fit(problem, settings.Gp);
        return new ClassificationPosterior(problem.Network, settings.Mean, regression.PriorVariance, regression.ParameterShift, regression.Variance,
                                           settings, regression.Report);
    }

    private static ClassificationPosterior FitSoftmax(RegressionProblem problem, Tensor labels, ClassificationSettings settings, Stopwatch clock)
    {
        var network = problem.Network;
        StrategyChoice.CheckLaplaceFits(problem.Size);
        // The evidence is compared between values of s²: each mode is solved to a relative gradient of 1e-6 during the search
        // (the objective's error is then about 1e-12 of its scale, far below the evidence differences that decide), and
        // the final one to the tolerance asked for, at most 1e-9.
        var solver = settings.SolverOrDefault with { Tolerance = Math.Min(settings.SolverOrDefault.Tolerance, 1e-9) };
        var searching = solver with { Tolerance = Math.Max(solver.Tolerance, InferenceSettings.EvidenceSearchModeTolerance) };
        using var scope = NewDisposeScope();
        // With independent outputs only the C diagonal blocks [C, N, N] are formed: a tenth of the products for ten classes.
        // When the Jacobian by output fits the prediction budget the blocks come from it, and so does the shift: C backward
        // passes fewer (on 1,000 Fashion-MNIST images of ten classes the shift went from 2.4-3.9 s to 0.03 s, the kernel
        // from 4.2-5.8 s to 5.5-6.0 s).
        bool independent = StrategyChoice.IndependentSoftmaxOutputs(settings.IndependentOutputs, problem.Size, problem.Outputs);
        Tensor? rows = independent && StrategyChoice.KeepsJacobianByOutput(network, problem.Inputs, problem.Count * problem.Outputs)
            ? network.JacobianByOutput(problem.Inputs) : null;
        Tensor kernel = rows is not null ? FactoredLayerKernel.OwnBlocks(rows)
                      : independent ? network.KernelBlocks(problem.Inputs) : network.Kernel(problem.Inputs, problem.Inputs);
        Tensor prior = settings.Mean == PriorMean.Network ? problem.PretrainedOutputs.reshape(problem.Count, problem.Outputs) : zeros(problem.Count, problem.Outputs, dtype: ScalarType.Float64);
        Tensor onehot = SoftmaxLink.Targets(labels, problem.Outputs);

        var modes = new SoftmaxModes(kernel, prior, onehot, independent, solver);
        int evaluations = 0;
        double priorVariance = settings.PriorVariance ?? 0;
        var warnings = new List<string>();
        if (settings.PriorVariance is null)
        {
            var choice = EvidenceSearch.Run(modes, kernel, prior, onehot, labels, independent, searching);
            (priorVariance, evaluations) = (choice.PriorVariance, choice.Evaluations);
            if (choice.Warning is not null) warnings.Add(choice.Warning);
        }
        var final = modes.Final(priorVariance);
        // The final solve aims at 1e-9; it has converged when it reached that, or stagnated within the tolerance asked for
        // (1e-6 by default): rounding of f = m + s² K0 a can hold the gradient near 1e-7 of its start (a Bayesian last layer
        // on 100 Fashion-MNIST images stagnated at 1.1e-7, its objective then provably within 2.6e-8 nats of the mode).
        bool converged = final.Converged || final.GradientNorm <= settings.SolverOrDefault.Tolerance * final.InitialGradientNorm;
        if (!converged)
            warnings.Add($"Newton's method stopped after {final.NewtonIterations} iterations with a gradient norm of {final.GradientNorm:E2} " +
                         $"({final.GradientNorm / Math.Max(final.InitialGradientNorm, 1e-300):E1} of its initial value" +
                         (final.Stagnated ? "; the objective no longer decreased within rounding)." : ")."));
        var scale = settings.CovarianceScale is { } given ? new CovarianceScaleChoice(given, Array.Empty<(double, double)>())
                                                          : CovarianceScaleSelection.Choose(kernel, prior, onehot, labels, independent, priorVariance, final.Weights, searching, settings, modes.Steps);
        Tensor shift = DenseRegression.ParameterShift(problem, final.Weights, priorVariance, independent, rows);
        var report = new FitReport(InferenceStrategy.Dense, priorVariance, NoiseVariance: 0, ConstantMean: Array.Empty<double>(), LogMarginalLikelihood: final.Evidence,
                                   HyperparameterIterations: evaluations, HyperparametersConverged: true, SolverIterations: final.NewtonIterations,
                                   SolverResidual: final.GradientNorm, SolverConverged: converged, Jitter: final.Jitter, Elapsed: clock.Elapsed, Warnings: warnings, CovarianceScale: scale.Scale,
                                   IndependentOutputs: independent);
        var variance = final.Variance(network, problem.InputsForPredictions(), priorVariance, rows);
        if (scale.Scale != 1) variance = new ScaledVariance(variance, scale.Scale);
        scope.MoveToOuter(final.Tensors);
        return new ClassificationPosterior(network, settings.Mean, priorVariance, scope.MoveToOuter(shift), variance, settings, report);
    }

    /// <summary>Labels must be integers 0 … C−1 (0 or 1 for one output), one per input.</summary>
    internal static void CheckLabels(Tensor labels, long count, long classes)
    {
        if (labels.dim() != 1 || labels.shape[0] != count)
            throw new ArgumentException($"Expected {count} labels (one per input); got shape [{string.Join(", ", labels.shape)}].");
        if (labels.dtype != ScalarType.Int64) throw new ArgumentException($"Labels must be Int64 class indices; got {labels.dtype}.");
        long last = SoftmaxLink.LastLabel(classes);
        Tensor bad = (labels.Below(0) | labels.Above(last)).nonzero();
        if (bad.shape[0] > 0)
        {
            long row = bad[0, 0].item<long>();
            throw new ArgumentException($"Label {labels[row].item<long>()} at row {row} is outside 0…{last} (the network has {classes} output{(classes == 1 ? ", a log-odds" : "s")}).");
        }
    }
}
