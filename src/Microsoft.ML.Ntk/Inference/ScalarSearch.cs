namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Maximizes a function of one variable without derivatives: a coarse grid over [center − halfWidth, center + halfWidth],
/// then golden-section search in the bracket around the best grid point, to the given tolerance. Says whether the best
/// point lies at an end of the range (the maximum may then be beyond it).
/// </summary>
internal static class ScalarSearch
{
    public static (double Point, double Value, int Evaluations, bool AtEdge) Maximize(Func<double, double> function, double center,
                                                                      double halfWidth = 8, int gridPoints = 9, double tolerance = 1e-3)
    {
        int evaluations = 0;
        double Evaluate(double u) { evaluations++; double v = function(u); return double.IsFinite(v) ? v : double.NegativeInfinity; }
        double step = 2 * halfWidth / (gridPoints - 1);
        var grid = Enumerable.Range(0, gridPoints).Select(i => center - halfWidth + i * step).Select(u => (U: u, V: Evaluate(u))).ToList();
        int best = grid.FindIndex(g => g.V == grid.Max(h => h.V));
        double low = grid[Math.Max(best - 1, 0)].U, high = grid[Math.Min(best + 1, gridPoints - 1)].U;
        double ratio = (Math.Sqrt(5) - 1) / 2;
        double a = high - ratio * (high - low), b = low + ratio * (high - low);
        double fa = Evaluate(a), fb = Evaluate(b);
        while (high - low > tolerance)
        {
            if (fa >= fb) { high = b; b = a; fb = fa; a = high - ratio * (high - low); fa = Evaluate(a); }
            else { low = a; a = b; fa = fb; b = low + ratio * (high - low); fb = Evaluate(b); }
        }
        var candidates = new[] { (U: a, V: fa), (U: b, V: fb), grid[best] };
        var chosen = candidates.OrderByDescending(c => c.V).First();
        bool atEdge = best == 0 || best == gridPoints - 1;
        return (chosen.U, chosen.V, evaluations, atEdge && Math.Abs(chosen.U - grid[best].U) <= step / 2);
    }
}
