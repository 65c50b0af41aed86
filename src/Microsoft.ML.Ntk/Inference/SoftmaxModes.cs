using Microsoft.ML.Ntk.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The softmax Laplace modes of one fit, for the evidence search and at the chosen s². Each search solve starts from the
/// previous mode with the same latent values (a scales as 1/s² for fixed f − m = s² K0 a) and stops once its objective is
/// within <see cref="InferenceSettings.EvidenceSearchObjectiveAccuracy"/> of the mode; the final solve starts from the
/// best mode of the search (the same s² when the search chose it). With independent outputs the kernel is
/// its C diagonal N × N blocks [C, N, N] and every mode, the final one included, comes from <see cref="IndependentLaplace"/>;
/// with the full N·C × N·C kernel from <see cref="LatentLaplace"/>.
/// </summary>
internal sealed class SoftmaxModes(Tensor kernel, Tensor prior, Tensor onehot, bool independentOutputs, SolverSettings progress)
{
    /// <summary>
    /// Weights a [N·C] near the mode at s² (the pilot search's, <see cref="EvidenceSearch"/>): the first solve starts from them
    /// (scaled to its s²), instead of a = 0, and the modes take them over (disposed once a mode replaces them).
    /// </summary>
    public void Seed(Tensor weights, double s2) => (warm, warmVariance) = (weights, s2);

    private readonly Tensor? blocks = independentOutputs ? kernel : null;

    /// <summary>Shared by every independent-outputs mode of the fit, the held-out folds' included.</summary>
    public NewtonStepChoice Steps { get; } = new();

    private Tensor? warm, best;
    private double warmVariance = 1, bestVariance = 1, bestEvidence = double.NegativeInfinity;
    private int evaluated;

    /// <summary>The Laplace evidence at s², the mode solved to <paramref name="limits"/>; nothing of the mode but its weights is kept.</summary>
    public double Evidence(double s2, SolverSettings limits)
    {
        using var evaluation = NewDisposeScope();
        double evidence;
        if (blocks is null)
        {
            var mode = LatentLaplace.Solve(kernel, prior, onehot, s2, limits, Start(s2), InferenceSettings.EvidenceSearchObjectiveAccuracy);
            evidence = mode.Evidence;
            Keep(mode.Weights.clone(), s2, evidence, evaluation);
        }
        else
        {
            var mode = IndependentLaplace.Solve(blocks, prior, onehot, s2, limits, Start(s2), InferenceSettings.EvidenceSearchObjectiveAccuracy, Steps);
            evidence = mode.Evidence;
            Keep(mode.Weights, s2, evidence, evaluation);
        }
        progress.Report(SolverPhase.Searching, ++evaluated, () => $"Laplace evidence {evidence:F3} at s² = {s2:G4}");
        return evidence;
    }

    /// <summary>The mode at the chosen s², to the fit's own tolerance, with its factorization (in the caller's scope).</summary>
    public ISoftmaxMode Final(double s2)
    {
        Tensor? start = best is null ? null : best.Times(bestVariance / s2);
        return blocks is null
            ? LatentLaplace.Solve(kernel, prior, onehot, s2, progress, start)
            : IndependentLaplace.Solve(blocks, prior, onehot, s2, progress, start, steps: Steps);
    }

    /// <summary>The weights a [N·C] of the mode with the highest evidence so far and its s², or null before any.</summary>
    public (Tensor Weights, double PriorVariance)? Best => best is null ? null : (best, bestVariance);

    private Tensor? Start(double s2) => warm?.Times(warmVariance / s2);

    /// <summary>Keeps the mode's weights as the next start, and as the final start when its evidence is the best so far.</summary>
    private void Keep(Tensor weights, double s2, double evidence, DisposeScope evaluation)
    {
        if (warm is not null && !ReferenceEquals(warm, best)) warm.Dispose();
        warm = evaluation.MoveToOuter(weights);
        warmVariance = s2;
        if (evidence > bestEvidence)
        {
            best?.Dispose();
            (best, bestVariance, bestEvidence) = (warm, s2, evidence);
        }
    }
}
