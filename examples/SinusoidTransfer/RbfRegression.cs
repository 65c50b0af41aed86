using Microsoft.ML.Ntk.Examples;

namespace Microsoft.ML.Ntk.Examples.Sinusoid;

/// <summary>
/// The plain-GP baseline: exact GP regression on the inputs with k(a, b) = s² exp(−(a − b)² / (2 ℓ²)) and a constant mean
/// (the training mean), ℓ, s² and σ² maximizing the marginal likelihood over a log grid (ℓ from 0.1 to 10, s² from 0.01 to 100
/// times the targets' variance, σ² from 1e-4 to 1 times it). Predictive variances include σ². Plain float64 arithmetic: ten points.
/// </summary>
public static class RbfRegression
{
    private static readonly double[] Lengthscales = Grid(0.1, 10, 21);
    private static readonly double[] SignalFractions = Grid(0.01, 100, 9);
    private static readonly double[] NoiseFractions = Grid(1e-4, 1, 9);

    /// <summary>Chooses the hyperparameters and solves K⁻¹ r on the training points; the function returned predicts.</summary>
    public static Func<Point[], Predictive> Fit(Point[] train)
    {
        double[] x = train.Select(p => (double)p.X).ToArray(), y = train.Select(p => (double)p.Label).ToArray();
        double mean = y.Average(), variance = Math.Max(y.Select(v => (v - mean) * (v - mean)).Average(), 1e-12);
        double[] r = y.Select(v => v - mean).ToArray();
        var best = (Value: double.NegativeInfinity, L: 1.0, S: 1.0, N: 0.1);
        foreach (double l in Lengthscales)
            foreach (double s in SignalFractions)
                foreach (double n in NoiseFractions)
                {
                    var (lower, ok) = Cholesky(Kernel(x, x, l, s * variance, n * variance));
                    if (!ok) continue;
                    double[] alpha = Solve(lower, r);
                    double value = -0.5 * r.Zip(alpha, (a, b) => a * b).Sum() - Enumerable.Range(0, x.Length).Sum(i => Math.Log(lower[i, i]))
                                   - 0.5 * x.Length * Math.Log(2 * Math.PI);
                    if (value > best.Value) best = (value, l, s * variance, n * variance);
                }
        var (factor, _) = Cholesky(Kernel(x, x, best.L, best.S, best.N));
        double[] weights = Solve(factor, r);
        return test => Predict(x, mean, best.L, best.S, best.N, factor, weights, test);
    }

    private static Predictive Predict(double[] x, double mean, double l, double s, double noise, double[,] factor, double[] weights, Point[] test)
    {
        var means = new double[test.Length];
        var variances = new double[test.Length];
        for (int j = 0; j < test.Length; j++)
        {
            double[] k = x.Select(xi => s * Math.Exp(-Math.Pow(xi - test[j].X, 2) / (2 * l * l))).ToArray();
            means[j] = mean + k.Zip(weights, (a, b) => a * b).Sum();
            double[] v = Forward(factor, k);
            variances[j] = Math.Max(s - v.Sum(e => e * e), 0) + noise;
        }
        return new Predictive(means, variances);
    }

    private static double[] Grid(double low, double high, int count) =>
        Enumerable.Range(0, count).Select(i => low * Math.Pow(high / low, i / (count - 1.0))).ToArray();

    private static double[,] Kernel(double[] a, double[] b, double l, double s, double noise)
    {
        var k = new double[a.Length, b.Length];
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < b.Length; j++)
                k[i, j] = s * Math.Exp(-Math.Pow(a[i] - b[j], 2) / (2 * l * l)) + (i == j ? noise : 0);
        return k;
    }

    private static (double[,] Lower, bool Ok) Cholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i, j];
                for (int k = 0; k < j; k++) sum -= l[i, k] * l[j, k];
                if (i == j)
                {
                    if (!(sum > 0)) return (l, false);
                    l[i, i] = Math.Sqrt(sum);
                }
                else l[i, j] = sum / l[j, j];
            }
        return (l, true);
    }

    /// <summary>L⁻¹ b.</summary>
    private static double[] Forward(double[,] l, double[] b)
    {
        int n = b.Length;
        var z = new double[n];
        for (int i = 0; i < n; i++)
        {
            double sum = b[i];
            for (int k = 0; k < i; k++) sum -= l[i, k] * z[k];
            z[i] = sum / l[i, i];
        }
        return z;
    }

    /// <summary>(L Lᵀ)⁻¹ b.</summary>
    private static double[] Solve(double[,] l, double[] b)
    {
        double[] z = Forward(l, b);
        int n = b.Length;
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double sum = z[i];
            for (int k = i + 1; k < n; k++) sum -= l[k, i] * x[k];
            x[i] = sum / l[i, i];
        }
        return x;
    }
}
