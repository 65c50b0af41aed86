using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The mode of the softmax Laplace approximation in function space and the factorization at it. Weights: a [N·C] with
/// f̂ = m + s² K0 a (at the mode a = y − p̂, and Δθ̂ = s² Jᵀ a). Probabilities: p̂ = softmax(f̂), [N, C]. Objective:
/// Ψ = Σ CE(y, p̂) + ½ aᵀ (f̂ − m), equal to the parameter-space CE + |Δθ̂|² / (2 s²). GradientNorm: the parameter-space
/// gradient |Jᵀ(p̂ − y) + Δθ̂ / s²| = sqrt(rᵀ K0 r) with r = a − y + p̂. Stagnated: Newton's method stopped because
/// neither the objective nor the gradient still decreased. Curvature and Factor: Λ at p̂ and L Lᵀ = I + s² S K0 S.
/// </summary>
internal sealed record LaplaceMode(Tensor Weights, Tensor Probabilities, double Objective, int NewtonIterations, double GradientNorm,
                                   double InitialGradientNorm, bool Converged, bool Stagnated, CurvatureBlocks Curvature,
                                   DenseCholesky Factor) : ISoftmaxMode
{
    /// <summary>The Laplace evidence log q(y) = −Ψ − ½ log det(I + s² S K0 S).</summary>
    public double Evidence => -Objective - 0.5 * Factor.LogDeterminant();

    public double Jitter => Factor.Jitter;

    /// <summary>The root R = S L⁻ᵀ of (s² K0 + Λ⁻¹)⁻¹ that the latent variance needs.</summary>
    public KernelInverseRoot Root() => KernelInverseRoot.FromLaplace(Curvature.Dense(), Factor.Lower);

    private KernelInverseRoot? root;

    public IPosteriorVariance Variance(LinearizedNetwork network, PreparedInputs training, double priorVariance, Tensor? trainingRows = null) =>
        new KernelSpaceVariance(network, training, root ??= Root(), priorVariance);

    public Tensor Covariance(Tensor cross, Tensor own, double priorVariance) =>
        KernelSpaceVariance.FromCrossKernel(root ??= Root(), cross, own, priorVariance);

    public IEnumerable<Tensor> Tensors => new[] { Weights, Probabilities, (root ??= Root()).LeftFactor!, root.LowerCholesky };
}

/// <summary>
/// The MAP of the linearized softmax model found on the N·C latent values with the explicit kernel (the multi-class
/// Laplace of Rasmussen and Williams, section 3.5, with the full cross-output kernel): no network pass per step. With one
/// output it is the binary Laplace (their Algorithm 3.1) through <see cref="SoftmaxLink"/>.
/// Newton's update in the weights a, with K = s² K0, W = Λ = S S and B = I + S K S = L Lᵀ, is
/// a ← b − S B⁻¹ S K b, b = Λ (f − m) + y − p, followed by a backtracking line search on Ψ. Each iteration's
/// tensors are freed before the next one. Stops when the parameter-space gradient falls below the tolerance relative
/// to its value at Δθ = 0 (never below <see cref="InferenceSettings.RoundingFloor"/> of it, which float64 rounding of K0 does not
/// allow to go further), or when the objective stops decreasing (stagnation, reported).
/// </summary>
internal static class LatentLaplace
{
    /// <summary>
    /// The mode for the kernel K0 [N·C, N·C] in float64 (layout n·C + c; cross-output terms zeroed for independent
    /// outputs), the prior mean m(X) [N, C], the one-hot labels y [N, C] and s²; from the weights <paramref name="start"/>
    /// (a warm start), from latent values <paramref name="startLatent"/> [N, C] when no weights reproduce them (a held-out
    /// fold started from the full mode's latent values: the first Newton step needs only f; it is taken whole and kept only
    /// when its Ψ is below Ψ at a = 0), or from a = 0 (f = m).
    /// </summary>
    public static LaplaceMode Solve(Tensor kernel, Tensor prior, Tensor onehot, double priorVariance, SolverSettings settings, Tensor? start = null,
                                        double objectiveAccuracy = 0, Tensor? startLatent = null)
    {
        using var scope = NewDisposeScope();
        Tensor m = prior.to(ScalarType.Float64).reshape(-1), y = onehot.to(ScalarType.Float64).reshape(-1);
        long n = prior.shape[0], c = prior.shape[1];
        var origin = Evaluate(kernel, m, y, n, c, priorVariance, zeros_like(m));
        double initial = GradientNorm(kernel, y, origin);
        var state = origin;
        if (start is not null) state = Evaluate(kernel, m, y, n, c, priorVariance, start.to(ScalarType.Float64).clone());
        else if (startLatent is not null)
        {
            Tensor latent = startLatent.to(ScalarType.Float64).reshape(-1);
            var stepped = Evaluate(kernel, m, y, n, c, priorVariance, NewtonWeights(kernel, m, y, priorVariance, latent, SoftmaxLink.Probabilities(latent.reshape(n, c))));
            if (stepped.Objective <= origin.Objective) state = stepped;
        }
        double target = ModeAccuracy.TargetGradient(settings, initial, priorVariance, objectiveAccuracy);
        double gradient = GradientNorm(kernel, y, state);
        int iteration = start is null && startLatent is not null ? 1 : 0;
        bool stagnated = false;
        var progress = new NewtonProgress(gradient, state.Objective);
        while (gradient > target && iteration < InferenceSettings.MaxNewtonIterations && !stagnated)
        {
            settings.Cancellation.ThrowIfCancellationRequested();
            iteration++;
            using (var step = NewDisposeScope())
            {
                var next = Step(kernel, m, y, n, c, priorVariance, state);
                if (next is null) stagnated = true;
                else
                {
                    state.Dispose();
                    state = next;
                    step.MoveToOuter(state.Weights, state.Latent, state.Probabilities);
                }
            }
            gradient = GradientNorm(kernel, y, state);
            stagnated |= progress.Stagnated(gradient, state.Objective);
            settings.Report(SolverPhase.Iterating, iteration, () => $"Newton iteration {iteration}: gradient norm {gradient:E2}");
        }
        bool converged = gradient <= target || ModeAccuracy.WithinRounding(gradient, priorVariance, state.Objective);
        var curvature = CurvatureBlocks.At(state.Probabilities);
        var factor = Factor(kernel, curvature, priorVariance);
        var mode = new LaplaceMode(scope.MoveToOuter(state.Weights), scope.MoveToOuter(state.Probabilities), state.Objective, iteration,
                                   gradient, initial, converged, stagnated && !converged, curvature, factor);
        scope.MoveToOuter(curvature.Curvature, curvature.Root, factor.Lower);
        return mode;
    }

    /// <summary>The iterate: weights a, latent values f = m + s² K0 a [N·C], probabilities [N, C] and Ψ.</summary>
    private sealed record State(Tensor Weights, Tensor Latent, Tensor Probabilities, double Objective) : IDisposable
    {
        public void Dispose()
        {
            Weights.Dispose();
            Latent.Dispose();
            Probabilities.Dispose();
        }
    }

    private static State Evaluate(Tensor kernel, Tensor m, Tensor y, long n, long c, double priorVariance, Tensor a)
    {
        Tensor shift = kernel.matmul(a).Times(priorVariance);                          // f − m
        Tensor latent = m.Plus(shift);
        Tensor byRow = latent.reshape(n, c);
        double objective = SoftmaxLink.NegativeLogLikelihood(byRow, y.reshape(n, c)) + 0.5 * a.dot(shift).item<double>();
        return new State(a, latent, SoftmaxLink.Probabilities(byRow), objective);
    }

    /// <summary>sqrt(rᵀ K0 r), r = a − y + p: the norm of the parameter-space gradient Jᵀ r.</summary>
    private static double GradientNorm(Tensor kernel, Tensor y, State state)
    {
        using var scope = NewDisposeScope();
        Tensor r = (state.Weights - y).Plus(state.Probabilities.reshape(-1));
        return Math.Sqrt(Math.Max(r.dot(kernel.matmul(r)).item<double>(), 0));
    }

    /// <summary>One Newton step with a line search on Ψ (<see cref="SoftmaxLineSearch"/>); null when no step decreases Ψ beyond rounding.</summary>
    private static State? Step(Tensor kernel, Tensor m, Tensor y, long n, long c, double priorVariance, State state)
    {
        Tensor direction = NewtonWeights(kernel, m, y, priorVariance, state.Latent, state.Probabilities) - state.Weights;
        Tensor directionShift = kernel.matmul(direction).Times(priorVariance);
        return SoftmaxLineSearch.Step(state.Latent.reshape(n, c), y.reshape(n, c), (state.Latent - m).reshape(n, c), direction.reshape(n, c),
                                      directionShift.reshape(n, c), state.Objective,
                                      t => Evaluate(kernel, m, y, n, c, priorVariance, state.Weights.Plus(direction.Times(t))), candidate => candidate.Objective);
    }

    /// <summary>Newton's target a ← b − S B⁻¹ S K b at the latent values f [N·C] with probabilities p [N, C]; it needs only f.</summary>
    private static Tensor NewtonWeights(Tensor kernel, Tensor m, Tensor y, double priorVariance, Tensor latent, Tensor probabilities)
    {
        var curvature = CurvatureBlocks.At(probabilities);
        var factor = Factor(kernel, curvature, priorVariance);
        Tensor b = curvature.ApplyCurvature(latent - m).Plus(y) - probabilities.reshape(-1);
        Tensor kb = kernel.matmul(b).Times(priorVariance);
        return b - curvature.ApplyRoot(factor.Solve(curvature.ApplyRoot(kb.unsqueeze(1)))).squeeze(1);
    }

    /// <summary>L with L Lᵀ = I + s² S K0 S.</summary>
    private static DenseCholesky Factor(Tensor kernel, CurvatureBlocks curvature, double priorVariance)
    {
        using var scope = NewDisposeScope();
        Tensor b = curvature.Sandwich(kernel).Times(priorVariance);
        b = b.Plus(b.t()).Times(0.5);
        b.diagonal().AccumulateConstant(1.0);
        var factor = DenseCholesky.Factor(b);
        scope.MoveToOuter(factor.Lower);
        return factor;
    }
}
