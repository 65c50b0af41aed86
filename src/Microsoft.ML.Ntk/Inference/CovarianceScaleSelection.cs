using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>τ, the chosen covariance scale, and the held-out mean negative log likelihood at each scale tried (largest τ first).</summary>
internal sealed record CovarianceScaleChoice(double Scale, IReadOnlyList<(double Scale, double HeldOutNll)> Tried);

/// <summary>
/// Chooses the scale τ of the softmax Laplace covariance on held-out labels, the way the fine-tuning baselines choose their
/// learning rate: the labelled inputs are split into <see cref="InferenceSettings.CovarianceScaleFolds"/> folds (stratified:
/// sorted by class, dealt out in turn); for each fold the Laplace mode of the other folds is solved at the fit's s² on the
/// already computed kernel (no network pass), its first Newton step taken from the full mode's latent values at those
/// inputs (they differ from the fold's mode only by what the held-out labels added; the full mode's weights as a start
/// lose exactly that and took more steps than a = 0), and the held-out inputs get their latent mean and covariance from it. τ is
/// the value of <see cref="InferenceSettings.CovarianceScaleGrid"/> whose scaled covariances give the lowest mean negative
/// log probability of the held-out labels, under the predictive approximation the fit uses. The mean is not changed.
/// Why: on Fashion-MNIST the Laplace covariance of the linearized CNN made predictions far less confident than they were
/// accurate (README, "Calibration").
/// </summary>
internal static class CovarianceScaleSelection
{
    /// <param name="kernel">K0: the blocks [C, N, N] with independent outputs, else [N·C, N·C] (layout n·C + c).</param>
    /// <param name="prior">m(X), [N, C].</param>
    /// <param name="onehot">The Laplace targets (<see cref="SoftmaxLink.Targets"/>), [N, C].</param>
    /// <param name="labels">The class indices, [N].</param>
    /// <param name="independentOutputs">Whether <paramref name="kernel"/> is the C blocks.</param>
    /// <param name="priorVariance">The fit's s².</param>
    /// <param name="mode">The weights a [N·C] of the full mode at s² (layout n·C + c), whose latent values start the folds' solves; null: from a = 0.</param>
    /// <param name="solver">The limits of each fold's Newton solve.</param>
    /// <param name="settings">The predictive approximation (probit or Monte Carlo, its samples and seed).</param>
    /// <param name="steps">What the fit's other modes found about conjugate-gradient Newton steps (<see cref="NewtonStepChoice"/>), or null.</param>
    public static CovarianceScaleChoice Choose(Tensor kernel, Tensor prior, Tensor onehot, Tensor labels, bool independentOutputs,
                                               double priorVariance, Tensor? mode, SolverSettings solver, ClassificationSettings settings,
                                               NewtonStepChoice? steps = null)
    {
        using var scope = NewDisposeScope();
        long n = labels.shape[0];
        int folds = (int)Math.Min(InferenceSettings.CovarianceScaleFolds, n);
        if (folds < 2) return new CovarianceScaleChoice(1, Array.Empty<(double, double)>());
        Tensor? latent = mode is null ? null : Latent(kernel, prior, mode, independentOutputs, priorVariance);
        long[] fold = Folds(labels.cpu().data<long>().ToArray(), folds);
        var held = new List<(Tensor Mean, Tensor Covariance, Tensor Labels)>();
        for (int f = 0; f < folds; f++)
        {
            solver.Cancellation.ThrowIfCancellationRequested();
            // Each fold's restricted kernel, factors and cross kernel (about 300 MB for 1,000 inputs of ten classes) are freed
            // before the next fold: kept to the end, every fold took fresh memory, and its restrictions and factorizations
            // took up to ten times as long as the first fold's (the five folds 5.9 s, now 4.0 s).
            using var foldScope = NewDisposeScope();
            Tensor heldOut = tensor(Enumerable.Range(0, (int)n).Where(i => fold[i] == f).Select(i => (long)i).ToArray(), device: labels.device);
            Tensor training = tensor(Enumerable.Range(0, (int)n).Where(i => fold[i] != f).Select(i => (long)i).ToArray(), device: labels.device);
            Tensor? start = latent?.index_select(0, training);
            var (mean, covariance) = independentOutputs
                ? HeldOutIndependent(kernel, prior, onehot, training, heldOut, priorVariance, start, solver, steps)
                : HeldOutFull(kernel, prior, onehot, training, heldOut, priorVariance, start, solver);
            held.Add((foldScope.MoveToOuter(mean), foldScope.MoveToOuter(covariance), foldScope.MoveToOuter(labels.index_select(0, heldOut))));
        }
        Tensor means = cat(held.Select(h => h.Mean).ToArray()), covariances = cat(held.Select(h => h.Covariance).ToArray());
        Tensor heldLabels = cat(held.Select(h => h.Labels).ToArray());
        var tried = InferenceSettings.CovarianceScaleGrid
            .Select(tau => (tau, MeanNegativeLogProbability(SoftmaxPredictive.Probabilities(means, covariances.Times(tau), settings), heldLabels)))
            .ToList();
        double best = tried.Where(t => double.IsFinite(t.Item2)).DefaultIfEmpty((1.0, 0.0)).MinBy(t => t.Item2).Item1;
        return new CovarianceScaleChoice(best, tried);
    }

    /// <summary>The fold of each input: inputs sorted by class (then by position) and dealt out to the folds in turn.</summary>
    internal static long[] Folds(long[] labels, int folds)
    {
        var fold = new long[labels.Length];
        int position = 0;
        foreach (int i in Enumerable.Range(0, labels.Length).OrderBy(i => labels[i]).ThenBy(i => i)) fold[i] = position++ % folds;
        return fold;
    }

    /// <summary>f = m + s² K0 a, [N, C], at the full mode's weights a.</summary>
    private static Tensor Latent(Tensor kernel, Tensor prior, Tensor weights, bool independentOutputs, double s2) =>
        prior.to(ScalarType.Float64).Plus(KernelRestriction.Product(kernel, weights.reshape(prior.shape[0], prior.shape[1]), independentOutputs).Times(s2));

    private static (Tensor Mean, Tensor Covariance) HeldOutIndependent(Tensor blocks, Tensor prior, Tensor onehot, Tensor training, Tensor heldOut,
                                                                       double s2, Tensor? startLatent, SolverSettings solver, NewtonStepChoice? steps)
    {
        long c = prior.shape[1];
        var mode = IndependentLaplace.Solve(KernelRestriction.Of(blocks, training, training, true, c), prior.index_select(0, training),
                                            onehot.index_select(0, training), s2, solver, start: null, InferenceSettings.EvidenceSearchObjectiveAccuracy,
                                            steps, startLatent);
        Tensor cross = KernelRestriction.Of(blocks, training, heldOut, true, c);                            // [C, Nt, Nh]
        Tensor own = KernelRestriction.Of(blocks, heldOut, heldOut, true, c).diagonal(0, 1, 2).t();          // [Nh, C]
        Tensor shift = KernelRestriction.Product(cross, mode.Weights.reshape(training.shape[0], c), true, transposed: true).Times(s2);   // [Nh, C]
        return (prior.index_select(0, heldOut).Plus(shift), mode.Covariance(cross, own, s2));
    }

    private static (Tensor Mean, Tensor Covariance) HeldOutFull(Tensor kernel, Tensor prior, Tensor onehot, Tensor training, Tensor heldOut,
                                                                double s2, Tensor? startLatent, SolverSettings solver)
    {
        long c = prior.shape[1], nh = heldOut.shape[0];
        var mode = LatentLaplace.Solve(KernelRestriction.Of(kernel, training, training, false, c), prior.index_select(0, training),
                                       onehot.index_select(0, training), s2, solver, start: null, InferenceSettings.EvidenceSearchObjectiveAccuracy, startLatent);
        Tensor cross = KernelRestriction.Of(kernel, training, heldOut, false, c);                          // [Nt·C, Nh·C]
        Tensor own = KernelRestriction.Of(kernel, heldOut, heldOut, false, c).reshape(nh, c, nh, c).diagonal(0, 0, 2).permute(2, 0, 1);
        Tensor shift = KernelRestriction.Product(cross, mode.Weights.reshape(training.shape[0], c), false, transposed: true).Times(s2);
        return (prior.index_select(0, heldOut).Plus(shift), mode.Covariance(cross, own, s2));
    }

    /// <summary>−mean log p(label): with one output p is P(positive) and a label 0 scores 1 − p.</summary>
    private static double MeanNegativeLogProbability(Tensor probabilities, Tensor labels)
    {
        using var scope = NewDisposeScope();
        Tensor p = probabilities.shape[1] == 1
            ? where(labels.Above(0), probabilities[.., 0], probabilities[.., 0].ConstantMinus(1))
            : probabilities.gather(1, labels.unsqueeze(1)).squeeze(1);
        return -p.AtLeast(1e-300).log().mean().item<double>();
    }
}
