using System.Globalization;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// The candidates a gradient baseline chooses Adam's learning rate and step count from: one run per learning rate, scored at each
/// step count of <see cref="StepCounts"/> (checkpoints of that run). A run stops early once <see cref="Patience"/> successive
/// checkpoints have not improved on its best one; full-batch regression runs every candidate to the end.
/// </summary>
public sealed record AdamGrid(double[] LearningRates, int[] StepCounts, int Patience)
{
    /// <summary>The classification grid of the two CNN examples (scored on a held-out fifth by accuracy, then NLL).</summary>
    public static AdamGrid Classification { get; } = new(new[] { 1e-3, 3e-3, 1e-2, 3e-2 }, new[] { 25, 50, 100, 200, 400, 800 }, Patience: 2);

    /// <summary>The regression grid of the sinusoids (scored by the mean held-out MSE of 5-fold cross-validation).</summary>
    public static AdamGrid Regression { get; } = new(new[] { 1e-3, 3e-3, 1e-2, 3e-2, 1e-1 }, new[] { 100, 200, 500, 1000, 2000 }, Patience: int.MaxValue);

    /// <summary>The length of each learning rate's run.</summary>
    public int MaxSteps => StepCounts[^1];

    /// <summary>The grid in words, for the notes under the tables.</summary>
    public string Describe() =>
        $"learning rates {string.Join(", ", LearningRates.Select(r => r.ToString("G1", CultureInfo.InvariantCulture)))}; " +
        $"step counts {string.Join(", ", StepCounts)} (checkpoints of one {MaxSteps}-step run per learning rate" +
        (Patience < StepCounts.Length ? $", which stops once {Patience} successive checkpoints have not improved on its best)" : ")");
}
