namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// Maximizes a function of one variable without derivatives: steps of a fixed size from the center, uphill, until the
/// value falls again or the range [center − halfWidth, center + halfWidth] ends (a bracket, for functions with one
/// maximum such as the evidence in log s²), then Brent's method (parabolic steps through the three best points,
/// golden-section steps when a parabola is not trusted) inside the bracket, until it is narrower than the tolerance.
/// Says whether the best point lies at an end of the range (the maximum may then be beyond it).
/// </summary>
internal static class ScalarSearch
{
    public static (double Point, double Value, int Evaluations, bool AtEdge) Maximize(Func<double, double> function, double center,
                                                                      double halfWidth = 8, double step = 2, double tolerance = LinearAlgebraSettings.ScalarSearchTolerance)
    {
        int evaluations = 0;
        double Evaluate(double u) { evaluations++; double v = function(u); return double.IsFinite(v) ? v : double.NegativeInfinity; }
        var (low, best, high, atEdge) = Bracket(Evaluate, center, halfWidth, step);
        var (point, value) = Brent(Evaluate, low, high, best.U, best.V, tolerance);
        return (point, value, evaluations, atEdge && Math.Abs(point - best.U) <= step / 2);
    }

    /// <summary>Walks uphill from the center by <paramref name="step"/>: (low end, best point, high end, best at the range's end).</summary>
    private static (double Low, (double U, double V) Best, double High, bool AtEdge) Bracket(Func<double, double> f, double center,
                                                                                            double halfWidth, double step)
    {
        var middle = (U: center, V: f(center));
        var above = (U: center + step, V: f(center + step));
        double direction = above.V > middle.V ? 1 : -1;
        var (best, next) = direction > 0 ? (above, (U: center + 2 * step, V: double.NaN)) : (middle, (U: center - step, V: double.NaN));
        double behind = direction > 0 ? center : center + step;
        while (Math.Abs(next.U - center) <= halfWidth + 1e-12)
        {
            next.V = f(next.U);
            if (next.V <= best.V) return (Math.Min(behind, next.U), best, Math.Max(behind, next.U), false);
            behind = best.U;
            best = next;
            next = (best.U + direction * step, double.NaN);
        }
        return (Math.Min(behind, best.U), best, Math.Max(behind, best.U), true);
    }

    /// <summary>Brent's method for a maximum in [low, high], starting from a known point x inside it with value fx.</summary>
    private static (double Point, double Value) Brent(Func<double, double> f, double low, double high, double x, double fx, double tolerance)
    {
        const double golden = 0.3819660112501051;            // (3 − √5) / 2
        double a = low, b = high, w = x, v = x, fw = fx, fv = fx, d = 0, e = 0;
        double tol = tolerance / 2;
        for (int i = 0; i < LinearAlgebraSettings.ScalarSearchRefinements; i++)
        {
            double middle = 0.5 * (a + b);
            if (Math.Abs(x - middle) <= 2 * tol - 0.5 * (b - a)) break;
            bool parabolic = false;
            if (Math.Abs(e) > tol)
            {
                // The vertex of the parabola through (x, fx), (w, fw), (v, fv), as a step p / q from x.
                double r = (x - w) * (fx - fv), q = (x - v) * (fx - fw), p = (x - v) * q - (x - w) * r;
                q = 2 * (q - r);
                if (q > 0) p = -p;                              // the vertex is the same for f and −f
                q = Math.Abs(q);
                if (Math.Abs(p) < Math.Abs(0.5 * q * e) && p > q * (a - x) && p < q * (b - x))
                {
                    e = d;
                    d = p / q;
                    if (x + d - a < 2 * tol || b - (x + d) < 2 * tol) d = middle >= x ? tol : -tol;
                    parabolic = true;
                }
            }
            if (!parabolic)
            {
                e = x >= middle ? a - x : b - x;
                d = golden * e;
            }
            double u = x + (Math.Abs(d) >= tol ? d : (d >= 0 ? tol : -tol));
            double fu = f(u);
            if (fu >= fx)
            {
                if (u >= x) a = x; else b = x;
                (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
            }
            else
            {
                if (u < x) a = u; else b = u;
                if (fu >= fw || w == x) (v, fv, w, fw) = (w, fw, u, fu);
                else if (fu >= fv || v == x || v == w) (v, fv) = (u, fu);
            }
        }
        return (x, fx);
    }
}
