namespace Microsoft.ML.Ntk.Examples;

/// <summary>The measures the examples report, each over a test set.</summary>
public static class Metrics
{
    /// <summary>Mean squared error.</summary>
    public static double MeanSquaredError(double[] mean, double[] truth) => mean.Zip(truth, (m, y) => (m - y) * (m - y)).Average();

    /// <summary>Mean Gaussian negative log likelihood of the truth under N(mean, variance).</summary>
    public static double GaussianNll(double[] mean, double[] variance, double[] truth) =>
        Enumerable.Range(0, mean.Length).Average(i =>
        {
            double v = Math.Max(variance[i], 1e-12), r = truth[i] - mean[i];
            return 0.5 * (Math.Log(2 * Math.PI * v) + r * r / v);
        });

    /// <summary>The fraction of targets inside mean ± 2σ (0.954 for a calibrated Gaussian).</summary>
    public static double TwoSigmaCoverage(double[] mean, double[] variance, double[] truth) =>
        Enumerable.Range(0, mean.Length).Average(i => Math.Abs(truth[i] - mean[i]) <= 2 * Math.Sqrt(Math.Max(variance[i], 0)) ? 1.0 : 0.0);

    /// <summary>Accuracy of the most probable class.</summary>
    public static double Accuracy(float[][] probabilities, int[] labels) =>
        labels.Select((y, i) => ArgMax(probabilities[i]) == y ? 1.0 : 0.0).Average();

    /// <summary>Mean negative log probability of the true class (probabilities clamped at 1e-12).</summary>
    public static double ClassificationNll(float[][] probabilities, int[] labels) =>
        labels.Select((y, i) => -Math.Log(Math.Max(probabilities[i][y], 1e-12))).Average();

    /// <summary>One bin of a reliability diagram: how many predictions, their mean confidence and their accuracy.</summary>
    public sealed record ReliabilityBin(double Lower, double Upper, int Count, double Confidence, double Accuracy);

    /// <summary>Reliability bins of the top-class confidence (equal widths over [0, 1]).</summary>
    public static ReliabilityBin[] Reliability(float[][] probabilities, int[] labels, int bins = 10)
    {
        var result = new ReliabilityBin[bins];
        for (int b = 0; b < bins; b++)
        {
            double lower = (double)b / bins, upper = (double)(b + 1) / bins;
            var members = Enumerable.Range(0, labels.Length).Where(i =>
            {
                double c = probabilities[i].Max();
                return c > lower && c <= upper || b == 0 && c == 0;
            }).ToArray();
            result[b] = new ReliabilityBin(lower, upper, members.Length,
                members.Length == 0 ? 0 : members.Average(i => probabilities[i].Max()),
                members.Length == 0 ? 0 : members.Average(i => ArgMax(probabilities[i]) == labels[i] ? 1.0 : 0.0));
        }
        return result;
    }

    /// <summary>Expected calibration error: the count-weighted mean |accuracy − confidence| over the reliability bins.</summary>
    public static double ExpectedCalibrationError(float[][] probabilities, int[] labels, int bins = 10) =>
        Reliability(probabilities, labels, bins).Sum(b => (double)b.Count / labels.Length * Math.Abs(b.Accuracy - b.Confidence));

    public static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

    public static double Median(double[] values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>Mean and standard error of the mean.</summary>
    public static (double Mean, double StandardError) MeanAndError(IReadOnlyCollection<double> values)
    {
        double mean = values.Average();
        double variance = values.Count > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) : 0;
        return (mean, Math.Sqrt(variance / values.Count));
    }
}
