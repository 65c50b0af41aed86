using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>The outcome of a solve, including how it ended: a solve that stopped at its cap says so.</summary>
internal sealed record SolveResult(Tensor Solution, int Iterations, double[] RelativeResiduals, bool Converged)
{
    public double WorstResidual => RelativeResiduals.Length == 0 ? 0 : RelativeResiduals.Max();
}

/// <summary>
/// Preconditioned conjugate gradients for a symmetric positive definite operator and several right-hand sides at
/// once (one column each, with their own step sizes). Vectors are kept in float64 whatever the operator's dtype.
/// A column stops moving once its relative residual is below the tolerance; the solve ends when all have, or at the cap.
/// Convergence is judged on the true residual |b − A x|, not the recurrence.
/// </summary>
internal static class ConjugateGradients
{
    public static SolveResult Solve(LinearOperator a, Tensor b, IPreconditioner? preconditioner, SolverSettings settings)
    {
        settings.Validate();
        if (a.Rows != a.Columns) throw new ArgumentException($"Conjugate gradients need a square operator; {a} is not.");
        if (b.dim() != 2 || b.shape[0] != a.Rows)
            throw new ArgumentException($"The right-hand sides must have shape [{a.Rows}, k]; got [{string.Join(", ", b.shape)}].");
        using var scope = NewDisposeScope();
        Tensor rhs = b.to(ScalarType.Float64);
        Tensor rhsNorm = ScalarSafe.ColumnNorms(rhs);  // [k]
        Tensor x = zeros_like(rhs);
        Tensor r = rhs.clone();
        int iterations = 0;
        double[] residuals;
        for (int restart = 0; ; restart++)
        {
            iterations += Iterate(a, preconditioner, settings, x, r, rhsNorm, settings.MaxIterations - iterations);
            // The recurrence residual drifts from the true one when products are inexact (float32 networks): check it,
            // and restart from the true residual while it is above the tolerance.
            r = rhs - a.Multiply(x).to(ScalarType.Float64);
            residuals = Residuals(r, rhsNorm).data<double>().ToArray();
            if (residuals.All(value => value <= settings.Tolerance) || iterations >= settings.MaxIterations || restart == LinearAlgebraSettings.ConjugateGradientRestarts) break;
        }
        bool converged = residuals.All(value => value <= settings.Tolerance);
        return new SolveResult(scope.MoveToOuter(x), iterations, residuals, converged);
    }

    /// <summary>CG iterations from the current x and residual r (both updated in place); returns how many ran.</summary>
    private static int Iterate(LinearOperator a, IPreconditioner? preconditioner, SolverSettings settings, Tensor x, Tensor r, Tensor rhsNorm, int limit)
    {
        using var scope = NewDisposeScope();
        Tensor active = Residuals(r, rhsNorm).Above(settings.Tolerance);
        Tensor z = preconditioner?.Apply(r) ?? r;
        Tensor p = z.clone();
        Tensor rz = (r * z).sum(dim: 0);
        int iterations = 0;
        while (active.any().item<bool>() && iterations < limit)
        {
            settings.Cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            Tensor ap = a.Multiply(p).to(ScalarType.Float64);
            Tensor curvature = (p * ap).sum(dim: 0);
            Tensor alpha = where(active.logical_and(curvature.Above(0)), rz / curvature, zeros_like(rz));
            x.Accumulate(p * alpha);
            r.sub_(ap * alpha);
            iterations++;
            settings.Report(SolverPhase.Iterating, iterations, () => $"conjugate gradients: iteration {iterations}");
            active.logical_and_(Residuals(r, rhsNorm).Above(settings.Tolerance));
            Tensor zNext = preconditioner?.Apply(r) ?? r;
            Tensor rzNext = (r * zNext).sum(dim: 0);
            Tensor beta = where(active.logical_and(rz.Above(0)), rzNext / rz, zeros_like(rz));
            p.mul_(beta).Accumulate(zNext);   // in place: the loop allocates nothing that outlives an iteration
            rz.copy_(rzNext);
        }
        return iterations;
    }

    private static Tensor Residuals(Tensor r, Tensor rhsNorm) =>
        where(rhsNorm.Above(0), ScalarSafe.ColumnNorms(r) / rhsNorm.AtLeast(1e-300), zeros_like(rhsNorm));
}
