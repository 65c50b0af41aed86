namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The columns an Ntk model adds, in the order its transforms add them, and their values for a batch of rows: one array
/// per column (float, bool or key values, or a float[] per row for the multiclass vectors).
/// </summary>
internal static class OutputColumns
{
    private static readonly string[] Regression = { "Score", "Variance" };
    private static readonly string[] Binary = { "Score", "Probability", "PredictedLabel", "Variance" };
    private static readonly string[] Multiclass = { "Score", "Variance", "PredictedLabel" };

    public static IReadOnlyList<string> Names(NtkTask task) => task switch
    {
        NtkTask.Regression => Regression,
        NtkTask.Binary => Binary,
        _ => Multiclass,
    };

    /// <summary>The output columns' values for <paramref name="rows"/>, in the order of <see cref="Names"/>.</summary>
    public static Array[] Predict(NtkPredictor predictor, IReadOnlyList<float[]> rows, long firstRow)
    {
        switch (predictor.Task)
        {
            case NtkTask.Regression:
                var (mean, variance) = predictor.PredictRegression(rows, firstRow);
                return new Array[] { mean, variance };
            case NtkTask.Binary:
                var (score, probability, logOddsVariance) = predictor.PredictBinary(rows, firstRow);
                return new Array[] { score, probability, probability.Select(NtkPredictor.Decide).ToArray(), logOddsVariance };
            default:
                var classes = predictor.PredictMulticlass(rows, firstRow);
                return new Array[] { classes.Scores, classes.Variances, classes.PredictedKeys };
        }
    }
}
