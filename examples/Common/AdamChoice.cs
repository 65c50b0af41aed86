using System.Globalization;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>The learning rate and step count a gradient baseline trains with, chosen on its labelled data (<see cref="AdamGrid"/>).</summary>
public sealed record AdamChoice(double LearningRate, int Steps)
{
    /// <summary>"rate/steps", as the notes under the tables list the choices.</summary>
    public override string ToString() => $"{LearningRate.ToString("G1", CultureInfo.InvariantCulture)}/{Steps}";

    /// <summary>The classification rule: the highest held-out accuracy, ties broken by the lowest held-out NLL.</summary>
    public static AdamChoice ByAccuracyThenNll(IEnumerable<(AdamChoice Choice, double Accuracy, double Nll)> candidates) =>
        candidates.OrderByDescending(c => c.Accuracy).ThenBy(c => Finite(c.Nll)).First().Choice;

    /// <summary>Whether a checkpoint beats another under <see cref="ByAccuracyThenNll"/>.</summary>
    public static bool Better((double Accuracy, double Nll) a, (double Accuracy, double Nll) b) =>
        a.Accuracy > b.Accuracy || a.Accuracy == b.Accuracy && Finite(a.Nll) < Finite(b.Nll);

    /// <summary>
    /// The regression rule: the candidate of <paramref name="grid"/> with the lowest held-out MSE averaged over the folds, from
    /// <paramref name="heldOutMse"/>[fold][learning rate][step count].
    /// </summary>
    public static AdamChoice ByMeanMse(AdamGrid grid, double[][][] heldOutMse)
    {
        var candidates = from r in Enumerable.Range(0, grid.LearningRates.Length)
                         from s in Enumerable.Range(0, grid.StepCounts.Length)
                         select (Choice: new AdamChoice(grid.LearningRates[r], grid.StepCounts[s]), Mse: heldOutMse.Average(fold => fold[r][s]));
        return candidates.OrderBy(c => Finite(c.Mse)).First().Choice;
    }

    /// <summary>A diverged candidate (NaN) ranks last.</summary>
    private static double Finite(double value) => double.IsNaN(value) ? double.PositiveInfinity : value;

    /// <summary>How often each choice was made ("3e-3/500 ×12, ..."), most frequent first, for notes over many tasks.</summary>
    public static string Counts(IEnumerable<AdamChoice> choices) =>
        string.Join(", ", choices.GroupBy(c => c).OrderByDescending(g => g.Count()).ThenBy(g => g.Key.LearningRate).ThenBy(g => g.Key.Steps)
            .Select(g => $"{g.Key} ×{g.Count()}"));
}
