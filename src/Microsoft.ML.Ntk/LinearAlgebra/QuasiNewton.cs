namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// Maximizes a smooth function of a few variables (here log hyperparameters) by BFGS with a backtracking line search.
/// The function returns its value and gradient; a non-finite value counts as a failed step. It has converged when the
/// gradient norm is below the tolerance, or when steps no longer change the value (rounding has been reached) while the
/// gradient is within a hundred times the tolerance.
/// </summary>
internal static class QuasiNewton
{
    public sealed record Result(double[] Point, double Value, int Iterations, double GradientNorm, bool Converged);

    public static Result Maximize(Func<double[], (double Value, double[] Gradient)> function, double[] start,
                                  double gradientTolerance = 1e-6, int maxIterations = 200, CancellationToken cancellation = default)
    {
        int d = start.Length;
        double[] x = (double[])start.Clone();
        var (value, gradient) = function(x);
        if (!double.IsFinite(value)) throw new ArgumentException("The objective is not finite at the starting point.");
        double[,] inverseHessian = Identity(d);
        int iteration = 0;
        for (; iteration < maxIterations && Norm(gradient) > gradientTolerance; iteration++)
        {
            cancellation.ThrowIfCancellationRequested();
            double[] direction = Multiply(inverseHessian, gradient);            // ascent direction
            if (Dot(direction, gradient) <= 0) { inverseHessian = Identity(d); direction = (double[])gradient.Clone(); }
            double step = Math.Min(1.0, 2.0 / Math.Max(Norm(direction), 1e-300)); // at most a factor e² per iteration
            double[] next; double nextValue; double[] nextGradient;
            while (true)
            {
                next = Add(x, direction, step);
                (nextValue, nextGradient) = function(next);
                if (double.IsFinite(nextValue) && nextValue >= value + 1e-4 * step * Dot(direction, gradient)) break;
                step *= 0.5;
                if (step < 1e-12) return new Result(x, value, iteration, Norm(gradient), Norm(gradient) <= gradientTolerance * 100);
            }
            bool stalled = nextValue - value <= 1e-15 * Math.Max(1, Math.Abs(value));
            if (stalled && Norm(nextGradient) <= 100 * gradientTolerance)
                return new Result(next, nextValue, iteration + 1, Norm(nextGradient), Converged: true);
            double[] s = Subtract(next, x), y = Subtract(gradient, nextGradient); // y: change of the negated gradient
            double sy = Dot(s, y);
            if (sy > 1e-12) inverseHessian = Update(inverseHessian, s, y, sy);
            (x, value, gradient) = (next, nextValue, nextGradient);
        }
        return new Result(x, value, iteration, Norm(gradient), Norm(gradient) <= gradientTolerance);
    }

    private static double[,] Update(double[,] h, double[] s, double[] y, double sy)
    {
        int d = s.Length;
        double[] hy = Multiply(h, y);
        double yhy = Dot(y, hy);
        var next = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                next[i, j] = h[i, j] + (sy + yhy) * s[i] * s[j] / (sy * sy) - (hy[i] * s[j] + s[i] * hy[j]) / sy;
        return next;
    }

    private static double[,] Identity(int d)
    {
        var m = new double[d, d];
        for (int i = 0; i < d; i++) m[i, i] = 1;
        return m;
    }

    private static double[] Multiply(double[,] m, double[] v) =>
        Enumerable.Range(0, v.Length).Select(i => Enumerable.Range(0, v.Length).Sum(j => m[i, j] * v[j])).ToArray();

    private static double Dot(double[] a, double[] b) => a.Zip(b, (p, q) => p * q).Sum();
    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));
    private static double[] Add(double[] a, double[] b, double t) => a.Zip(b, (p, q) => p + t * q).ToArray();
    private static double[] Subtract(double[] a, double[] b) => a.Zip(b, (p, q) => p - q).ToArray();
}
