using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>The s² the evidence search chose, how many evidence evaluations on all inputs it took, and its warning, if any.</summary>
internal sealed record EvidenceChoice(double PriorVariance, int Evaluations, string? Warning);

/// <summary>
/// s² of a softmax fit by its Laplace evidence, maximized in u = log s² (<see cref="ScalarSearch"/>): a walk uphill from a
/// center, then Brent's method in the bracket it found. The center is 1 / mean k0(x, x) and the walk's step 2
/// (<see cref="InferenceSettings.EvidenceSearchStep"/>). With at least <see cref="InferenceSettings.EvidencePilotMinimumInputs"/>
/// inputs a pilot search first runs on a class-stratified subset of about <see cref="InferenceSettings.EvidencePilotInputs"/>
/// of them (the kernel restricted to them, no network pass), and the search on all inputs walks from the pilot's maximum,
/// first by <see cref="InferenceSettings.EvidencePilotStep"/>, each further step twice as long. Each evaluation on all
/// inputs costs Newton's method with C factorizations of N × N per step; on the pilot's subset each costs (200 / N)³ of
/// that. The search on all inputs still decides s²: the pilot only chooses where its walk starts (for an evidence with one
/// maximum, the same maximum to the search's tolerance), and its mode gives the first solve on all inputs its start. On
/// 1,000 Fashion-MNIST images of ten classes the maximum lay e^7.5 above 1 / mean k0(x, x): the walk from there took six of
/// the search's nine evaluations, and the search went from 17–19 s to 11–13 s with the pilot (1.2–2 s of it) in one probe
/// each; walking from the pilot by 0.25 instead of 1 then took the search on all inputs from six evaluations to four.
/// </summary>
internal static class EvidenceSearch
{
    public static EvidenceChoice Run(SoftmaxModes modes, Tensor kernel, Tensor prior, Tensor onehot, Tensor labels, bool independentOutputs,
                                     SolverSettings searching)
    {
        double center = Center(kernel, independentOutputs), step = InferenceSettings.EvidenceSearchStep, growth = 1;
        if (Pilot(kernel, prior, onehot, labels, independentOutputs, center, searching) is { } pilot)
        {
            (center, step, growth) = (Math.Log(pilot.PriorVariance), InferenceSettings.EvidencePilotStep, InferenceSettings.EvidencePilotStepGrowth);
            modes.Seed(pilot.Weights, pilot.PriorVariance);
        }
        var search = Maximize(u => modes.Evidence(Math.Exp(u), searching), center, step, growth);
        double s2 = Math.Exp(search.Point), half = InferenceSettings.EvidenceSearchHalfWidth;
        string? warning = search.AtEdge
            ? $"The Laplace evidence is largest at the edge of the searched range (s² = {s2:G3}, range {Math.Exp(center - half):G3} … " +
              $"{Math.Exp(center + half):G3}): the labels add little beyond the prior mean, or need a prior variance outside it."
            : null;
        return new EvidenceChoice(s2, search.Evaluations, warning);
    }

    private static (double Point, double Value, int Evaluations, bool AtEdge) Maximize(Func<double, double> evidence, double center, double step,
                                                                                       double growth = 1) =>
        ScalarSearch.Maximize(evidence, center, InferenceSettings.EvidenceSearchHalfWidth, step, InferenceSettings.EvidenceSearchTolerance,
                              InferenceSettings.EvidenceSearchValueTolerance, growth);

    /// <summary>log(1 / mean k0(x, x)).</summary>
    private static double Center(Tensor kernel, bool independentOutputs)
    {
        using var scope = NewDisposeScope();
        double meanDiagonal = (independentOutputs ? kernel.diagonal(0, 1, 2) : kernel.diagonal()).mean().item<double>();
        return -Math.Log(Math.Max(meanDiagonal, 1e-300));
    }

    /// <summary>
    /// The s² of the evidence maximum on a class-stratified subset S (inputs sorted by class, every k-th taken, as the
    /// held-out folds are dealt) and its mode's weights a_S, padded with zeros to all N inputs ([N·C], in the caller's scope):
    /// the first solve on all inputs starts from them, latent values m + s² K0(X, S) a_S (on 1,000 Fashion-MNIST images of
    /// ten classes that solve took 11 Newton steps, 14 from a = 0). Null with fewer inputs than the pilot needs, or when the
    /// subset's maximum is at the edge of its range. The pilot's modes report no progress: their evidence is not the fit's.
    /// </summary>
    private static (double PriorVariance, Tensor Weights)? Pilot(Tensor kernel, Tensor prior, Tensor onehot, Tensor labels, bool independentOutputs,
                                                                double center, SolverSettings searching)
    {
        long n = labels.shape[0], c = prior.shape[1];
        if (n < InferenceSettings.EvidencePilotMinimumInputs) return null;
        using var scope = NewDisposeScope();
        long[] fold = CovarianceScaleSelection.Folds(labels.cpu().data<long>().ToArray(), (int)(n / InferenceSettings.EvidencePilotInputs));
        Tensor subset = tensor(Enumerable.Range(0, (int)n).Where(i => fold[i] == 0).Select(i => (long)i).ToArray(), device: labels.device);
        var quiet = searching with { Progress = null };
        var pilot = new SoftmaxModes(KernelRestriction.Of(kernel, subset, subset, independentOutputs, c), prior.index_select(0, subset),
                                     onehot.index_select(0, subset), independentOutputs, quiet);
        var search = Maximize(u => pilot.Evidence(Math.Exp(u), quiet), center, InferenceSettings.EvidenceSearchStep);
        if (search.AtEdge || pilot.Best is not { } best) return null;
        Tensor weights = zeros(n, c, dtype: ScalarType.Float64, device: prior.device).index_copy_(0, subset, best.Weights.reshape(-1, c));
        return (best.PriorVariance, scope.MoveToOuter(weights.reshape(-1)));
    }
}
