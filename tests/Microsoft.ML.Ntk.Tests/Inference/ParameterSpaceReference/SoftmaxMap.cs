using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference.ParameterSpaceReference;

/// <summary>The MAP of the linearized softmax model and how Newton's method reached it.</summary>
internal sealed record SoftmaxMapResult(Tensor Shift, Tensor Logits, Tensor Probabilities, double Objective, int NewtonIterations,
                                        int ConjugateGradientIterations, double GradientNorm, bool Converged);

/// <summary>
/// Δθ̂ = argmin Σ_i CE(y_i, softmax(m_i + J_i Δθ)) + |Δθ|² / (2 s²): convex, so Newton's method with a backtracking line
/// search finds the one minimum. Each Newton step solves H d = −g by conjugate gradients with Gauss–Newton products
/// (inexact Newton: the CG tolerance tightens as the gradient shrinks). Converged when |g| ≤ tolerance · |g at Δθ = 0|.
/// With independent outputs the shift has one block per class (see <see cref="ParameterSpace"/>) and comes back as [C, P].
/// </summary>
internal static class SoftmaxMap
{
    public const int MaxNewtonIterations = 50;

    public static SoftmaxMapResult Solve(LinearizedNetwork network, PreparedInputs inputs, Tensor prior, Tensor labels,
                                         double priorVariance, SolverSettings settings, Tensor? start = null, bool independentOutputs = false)
    {
        using var scope = NewDisposeScope();
        long classes = prior.shape[1];
        var space = new ParameterSpace(network, inputs, classes, independentOutputs);
        Tensor onehot = nn.functional.one_hot(labels, classes).to(ScalarType.Float64);
        Tensor shift = start?.reshape(-1).clone() ?? zeros(space.Dimension, dtype: ScalarType.Float64, device: network.Parameters.Device);
        var state = Evaluate(space, prior, onehot, shift, priorVariance);
        double initialGradient = Gradient(space, onehot, state.Probabilities, zeros_like(shift), priorVariance).norm().item<double>();
        double target = settings.Tolerance * Math.Max(initialGradient, 1e-300);
        int newton = 0, cg = 0;
        double gradientNorm = double.PositiveInfinity;
        for (; newton < MaxNewtonIterations; newton++)
        {
            settings.Cancellation.ThrowIfCancellationRequested();
            Tensor gradient = Gradient(space, onehot, state.Probabilities, shift, priorVariance);
            gradientNorm = gradient.norm().item<double>();
            if (gradientNorm <= target) break;
            settings.Report(SolverPhase.Iterating, newton + 1, () => $"Newton iteration {newton + 1}: gradient norm {gradientNorm:E2}");
            var hessian = new SoftmaxHessianOperator(space, state.Probabilities, priorVariance, network.Parameters.Device);
            double forcing = Math.Min(0.5, Math.Sqrt(gradientNorm / Math.Max(initialGradient, 1e-300)));
            var step = ConjugateGradients.Solve(hessian, -gradient.unsqueeze(1), null,
                settings with { Tolerance = Math.Max(Math.Min(forcing, 0.5), settings.Tolerance * 1e-3) });
            cg += step.Iterations;
            (shift, state) = LineSearch(space, prior, onehot, shift, step.Solution.squeeze(1), gradient, state, priorVariance);
        }
        bool converged = gradientNorm <= target;
        Tensor shaped = independentOutputs ? shift.reshape(classes, -1) : shift;
        return new SoftmaxMapResult(scope.MoveToOuter(shaped), scope.MoveToOuter(state.Logits), scope.MoveToOuter(state.Probabilities),
                                    state.Objective, newton, cg, gradientNorm, converged);
    }

    /// <summary>g = Jᵀ (p − y) + Δθ / s².</summary>
    private static Tensor Gradient(ParameterSpace space, Tensor onehot, Tensor probabilities, Tensor shift, double priorVariance) =>
        space.Vjp((probabilities - onehot).unsqueeze(0))[0] + shift / priorVariance;

    private sealed record State(Tensor Logits, Tensor Probabilities, double Objective);

    private static State Evaluate(ParameterSpace space, Tensor prior, Tensor onehot, Tensor shift, double priorVariance)
    {
        Tensor logits = prior + space.Jvp(shift.unsqueeze(0))[0];
        Tensor logProbabilities = logits.log_softmax(1);
        double objective = -(onehot * logProbabilities).sum().item<double>() + shift.square().sum().item<double>() / (2 * priorVariance);
        return new State(logits, logProbabilities.exp(), objective);
    }

    private static (Tensor, State) LineSearch(ParameterSpace space, Tensor prior, Tensor onehot, Tensor shift,
                                              Tensor direction, Tensor gradient, State state, double priorVariance)
    {
        double slope = gradient.dot(direction).item<double>();
        if (slope >= 0) { direction = -gradient; slope = -gradient.square().sum().item<double>(); }
        for (double t = 1; t > 1e-10; t *= 0.5)
        {
            Tensor candidate = shift + t * direction;
            var next = Evaluate(space, prior, onehot, candidate, priorVariance);
            if (next.Objective <= state.Objective + 1e-4 * t * slope) return (candidate, next);
        }
        return (shift, state);
    }
}
