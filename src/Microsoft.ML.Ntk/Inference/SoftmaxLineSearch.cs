using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The step length along a Newton direction of a softmax Laplace mode. Along a + t d the objective
/// φ(t) = Ψ(a + t d) = −Σ y · log softmax(f + t s²K d) + ½ (a + t d)ᵀ s²K (a + t d) is convex, and once s²K d is known its
/// slope and curvature in t cost one softmax of the N × C latent values (σ for one output, <see cref="SoftmaxLink"/>) and no kernel
/// product:
/// φ′(t) = Σ (p_t − y) · s²K d + dᵀ s²K a + t dᵀ s²K d, φ″(t) = Σ_n (s²K d)_nᵀ (diag p_n − p_n p_nᵀ) (s²K d)_n + dᵀ s²K d.
/// The step is the minimizer of φ on (0, 1] (Newton's full step when φ′(1) ≤ 0), by Newton iterations on φ′ kept inside a
/// shrinking bracket. Halving from 1 took t = 0.5 where the minimizer lay near it, and half of the damped steps of the first
/// mode on 1,000 Fashion-MNIST images went that way; the solvers still check the decrease on the objective itself.
/// </summary>
internal static class SoftmaxLineSearch
{
    private const int MaxIterations = 50;

    /// <summary>
    /// The state at a + t d for the step t of <see cref="Along"/>, halved while the objective does not decrease by at least
    /// 1e-4 t φ′(0) (Armijo); Newton's full step where the slope is below the objective's rounding (this close to the mode it
    /// is reliable, and the solver watches the gradient instead); null when d is no descent direction or no step decreases Ψ.
    /// </summary>
    /// <param name="latent">f = m + s²K a [N, C].</param>
    /// <param name="targets">y [N, C].</param>
    /// <param name="shift">s²K a [N, C].</param>
    /// <param name="direction">d [N, C].</param>
    /// <param name="directionShift">s²K d [N, C].</param>
    /// <param name="objective">Ψ(a).</param>
    /// <param name="at">The state at a + t d.</param>
    /// <param name="objectiveOf">Ψ of a state.</param>
    public static TState? Step<TState>(Tensor latent, Tensor targets, Tensor shift, Tensor direction, Tensor directionShift, double objective,
                                       Func<double, TState> at, Func<TState, double> objectiveOf) where TState : class
    {
        var (slope, step) = Along(latent, targets, shift, direction, directionShift);
        if (!(slope < 0)) return null;
        if (-slope < 1e-14 * Math.Max(Math.Abs(objective), 1)) return at(1);
        for (double t = step; t > 1e-10; t *= 0.5)
        {
            var candidate = at(t);
            if (objectiveOf(candidate) <= objective + 1e-4 * t * slope) return candidate;
        }
        return null;
    }

    /// <summary>The slope φ′(0) and the step t in (0, 1], for the arguments of <see cref="Step"/>.</summary>
    internal static (double Slope, double Step) Along(Tensor latent, Tensor targets, Tensor shift, Tensor direction, Tensor directionShift)
    {
        using var scope = NewDisposeScope();
        double linear = (direction * shift).sum().item<double>(), quadratic = (direction * directionShift).sum().item<double>();
        double Slope(double t, out double curvature)
        {
            using var inner = NewDisposeScope();
            Tensor p = SoftmaxLink.Probabilities(latent.Plus(directionShift.Times(t)));
            Tensor along = p * directionShift;
            curvature = (along * directionShift).sum().item<double>() - along.sum(1).Squared().sum().item<double>() + quadratic;
            return ((p - targets) * directionShift).sum().item<double>() + linear + t * quadratic;
        }
        double slope = Slope(0, out _);
        if (!(slope < 0)) return (slope, 1);
        double at = 1, g = Slope(at, out double h);
        if (g <= 0) return (slope, 1);
        double low = 0, high = 1;
        for (int i = 0; i < MaxIterations && high - low > 1e-6 * high && Math.Abs(g) > 1e-8 * -slope; i++)
        {
            if (g > 0) high = at;
            else low = at;
            double next = at - g / h;
            at = next > low && next < high && double.IsFinite(next) ? next : 0.5 * (low + high);
            g = Slope(at, out h);
        }
        return (slope, at);
    }
}
