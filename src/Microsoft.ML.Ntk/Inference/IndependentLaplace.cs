using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The softmax mode with independent outputs, found by <see cref="IndependentLaplace"/>, its Laplace evidence and the
/// factors at it: L_c [C, N, N], D_c^½ [C, N] and M [N, N] (M Mᵀ = Σ_c E_c + jitter), which give the predictive
/// covariance (<see cref="IndependentLaplaceVariance"/>).
/// </summary>
internal sealed record IndependentMode(Tensor Weights, double Objective, double LogDeterminant, int NewtonIterations, double GradientNorm,
                                       double InitialGradientNorm, bool Converged, bool Stagnated, Tensor Lower, Tensor RootD, Tensor Coupling,
                                       double Jitter) : ISoftmaxMode
{
    public double Evidence => -Objective - 0.5 * LogDeterminant;

    public IPosteriorVariance Variance(LinearizedNetwork network, PreparedInputs training, double priorVariance, Tensor? trainingRows = null) =>
        new IndependentLaplaceVariance(network, training, Lower, RootD, Coupling, priorVariance, trainingRows);

    public Tensor Covariance(Tensor cross, Tensor own, double priorVariance) =>
        IndependentLaplaceVariance.FromCrossKernel(Lower, RootD, Coupling, cross, own, priorVariance);

    public IEnumerable<Tensor> Tensors => new[] { Weights, Lower, RootD, Coupling };
}

/// <summary>
/// The softmax Laplace mode when the outputs' kernels are independent (one N × N block K_c per class): the multi-class
/// Laplace of Rasmussen and Williams (Algorithm 3.3), which needs C Cholesky factorizations of N × N and one more of
/// Σ_c E_c per Newton step instead of one of N·C × N·C. With D_c = diag(p_c), B_c = I + s² D_c^½ K_c D_c^½ = L_c L_cᵀ and
/// E_c = D_c^½ B_c⁻¹ D_c^½, M Mᵀ = Σ_c E_c: the Newton update a ← (I + W K)⁻¹ b is b − c + E R (M Mᵀ)⁻¹ Rᵀ c with c = E K b
/// (R sums over classes), and log det(I + K W) = Σ_c log det B_c + log det(M Mᵀ). The evidence search and the final mode
/// use it, and the factors at the final mode give the predictive covariance without any N·C × N·C factorization. E_c
/// comes from the inverse of B_c by its Cholesky factor (⅔ N³ flops), not from triangular solves with N right-hand sides.
/// </summary>
internal static class IndependentLaplace
{
    /// <param name="blocks">K0_c as [C, N, N] in float64.</param>
    /// <param name="prior">m(X) [N, C].</param>
    /// <param name="onehot">y [N, C].</param>
    /// <param name="priorVariance">s².</param>
    /// <param name="settings">The tolerance (relative to the gradient at a = 0) and cancellation.</param>
    /// <param name="start">Weights a [N·C] (layout n·C + c) to start from, or null for a = 0.</param>
    /// <param name="objectiveAccuracy">When positive, stop once the objective is provably within it of the mode (<see cref="ModeAccuracy"/>).</param>
    /// <param name="steps">What earlier modes of the same fit found about conjugate-gradient steps, or null.</param>
    /// <param name="startLatent">
    /// Latent values f [N, C] to take the first Newton step from, when no weights reproduce them (a held-out fold started from
    /// the full mode's latent values): a Newton step needs only f. That first step is taken whole, since Ψ at f is unknown,
    /// and kept only when its Ψ is below Ψ at a = 0. Ignored when <paramref name="start"/> is given.
    /// </param>
    public static IndependentMode Solve(Tensor blocks, Tensor prior, Tensor onehot, double priorVariance, SolverSettings settings, Tensor? start = null,
                                        double objectiveAccuracy = 0, NewtonStepChoice? steps = null, Tensor? startLatent = null)
    {
        using var scope = NewDisposeScope();
        steps ??= new NewtonStepChoice();
        Tensor? factor = steps.TriesConjugateGradients(priorVariance) ? PivotedCholesky.FactorBlocks(blocks, InferenceSettings.NewtonPreconditionerRank) : null;
        var problem = new Problem(blocks, prior.to(ScalarType.Float64), onehot.to(ScalarType.Float64), priorVariance, steps, factor);
        var origin = problem.Evaluate(zeros_like(problem.M));
        double initial = problem.GradientNorm(origin);
        var state = start is not null ? problem.Evaluate(start.to(ScalarType.Float64).reshape(problem.N, problem.C).clone())
                  : startLatent is not null ? problem.Better(problem.Evaluate(problem.NewtonWeights(startLatent.to(ScalarType.Float64), weights: null, settings).Next), origin)
                  : origin;
        double target = ModeAccuracy.TargetGradient(settings, initial, priorVariance, objectiveAccuracy);
        double gradient = problem.GradientNorm(state);
        int iteration = start is null && startLatent is not null ? 1 : 0;
        bool stagnated = false;
        var progress = new NewtonProgress(gradient, state.Objective);
        while (gradient > target && iteration < InferenceSettings.MaxNewtonIterations && !stagnated)
        {
            settings.Cancellation.ThrowIfCancellationRequested();
            iteration++;
            using (var step = NewDisposeScope())
            {
                var next = problem.Step(state, settings);
                if (next is null) stagnated = true;
                else
                {
                    state = next;
                    step.MoveToOuter(state.Weights, state.Latent);
                }
            }
            gradient = problem.GradientNorm(state);
            stagnated |= progress.Stagnated(gradient, state.Objective);
            settings.Report(SolverPhase.Iterating, iteration, () => $"Newton iteration {iteration}: gradient norm {gradient:E2}");
        }
        bool converged = gradient <= target || ModeAccuracy.WithinRounding(gradient, priorVariance, state.Objective);
        var f = problem.Factor(state.Latent.softmax(1), keepBlocks: false);
        return new IndependentMode(scope.MoveToOuter(state.Weights.reshape(-1)), state.Objective, f.LogDeterminant, iteration, gradient, initial,
                                   converged, stagnated && !converged, scope.MoveToOuter(f.Lower), scope.MoveToOuter(f.RootD),
                                   scope.MoveToOuter(f.M), f.Jitter);
    }

    private sealed record State(Tensor Weights, Tensor Latent, double Objective);

    /// <summary>The factors of one Newton step at probabilities p: L_c [C, N, N], D_c^½ [C, N], E_c [C, N, N] (when kept), M [N, N].</summary>
    private sealed record Factors(Tensor Lower, Tensor RootD, Tensor? E, Tensor M, double LogDeterminant, double Jitter);

    /// <summary>The mode's objective and Newton steps; <c>factor</c>: pivoted Cholesky factors G_c [C, N, r] of the blocks for the conjugate-gradient steps' preconditioner, or null.</summary>
    private sealed class Problem(Tensor blocks, Tensor m, Tensor y, double s2, NewtonStepChoice steps, Tensor? factor)
    {
        public long N => m.shape[0];
        public long C => m.shape[1];
        public Tensor M => m;

        /// <summary>K v for v [N, C]: column c through block c.</summary>
        private Tensor Kernel(Tensor v) => BlockDiagonal.Times(blocks, v.t()).t();

        public State Evaluate(Tensor a)
        {
            Tensor shift = Kernel(a).Times(s2);
            Tensor latent = m.Plus(shift);
            double objective = -(y * latent.log_softmax(1)).sum().item<double>() + 0.5 * (a * shift).sum().item<double>();
            return new State(a, latent, objective);
        }

        /// <summary>sqrt(rᵀ K0 r), r = a − y + p: the parameter-space gradient's norm.</summary>
        public double GradientNorm(State state)
        {
            using var scope = NewDisposeScope();
            Tensor r = (state.Weights - y).Plus(state.Latent.softmax(1));
            return Math.Sqrt(Math.Max((r * Kernel(r)).sum().item<double>(), 0));
        }

        /// <summary>
        /// The factors at probabilities p [N, C], one class at a time: the temporaries are N × N, not C × N × N (for
        /// 1,000 images of 10 classes, each C × N × N temporary was 80 MB of fresh pages, and forming B and E that way took
        /// longer than the factorizations). Σ_c E_c is summed as the classes come; the E_c themselves are kept only with
        /// <paramref name="keepBlocks"/> (a Newton step by factors needs them, the mode's evidence and covariance do not).
        /// </summary>
        public Factors Factor(Tensor p, bool keepBlocks)
        {
            Tensor rootD = p.t().sqrt();                                                   // [C, N]
            Tensor scaledRoot = rootD.Times(Math.Sqrt(s2));                                // s D_c^½
            Tensor lower = empty_like(blocks), sum = zeros(N, N, dtype: ScalarType.Float64, device: blocks.device);
            Tensor? e = keepBlocks ? empty_like(blocks) : null;
            for (long k = 0; k < C; k++)
            {
                using var scope = NewDisposeScope();
                Tensor outer = scaledRoot[k].unsqueeze(1) * scaledRoot[k].unsqueeze(0);    // s² D_c^½ 1 1ᵀ D_c^½
                Tensor b = blocks[k] * outer;
                b.diagonal().AccumulateConstant(1.0);                                      // B_c = I + s² D_c^½ K_c D_c^½
                Tensor l = linalg.cholesky(b);
                lower[k].copy_(l);
                Tensor scaledE = cholesky_inverse(l).mul_(outer);                          // s² E_c = s² D_c^½ B_c⁻¹ D_c^½
                sum.Accumulate(scaledE);
                e?[k].copy_(scaledE).TimesInPlace(1 / s2);
            }
            var coupling = DenseCholesky.Factor(sum.TimesInPlace(1 / s2));
            double logDet = 2 * lower.diagonal(0, 1, 2).log().sum().item<double>() + coupling.LogDeterminant();
            return new Factors(lower, rootD, e, coupling.Lower, logDet, coupling.Jitter);
        }

        /// <summary>The state of lower Ψ.</summary>
        public State Better(State first, State second) => first.Objective <= second.Objective ? first : second;

        /// <summary>One Newton step with a backtracking line search on Ψ; null when no step decreases it.</summary>
        public State? Step(State state, SolverSettings settings)
        {
            var (next, _) = NewtonWeights(state.Latent, state.Weights, settings);
            return LineSearch(state, next);
        }

        /// <summary>
        /// Newton's target a ← (I + W s²K)⁻¹ b at the latent values f [N, C], b = W (f − m) + y − p, and p. With the current
        /// weights known, the solve is for the step z = a_new − a, (I + W s²K) z = y − p − a: that right-hand side shrinks
        /// towards the mode, so a solve to a relative tolerance gives the step to that tolerance, where a solve for a_new
        /// itself gives it only relative to b, whose two terms nearly cancel (preconditioned conjugate-gradient steps for a_new
        /// held 1,000 Fashion-MNIST images at a gradient of 2e-6 of its start). Without weights (a first step from given
        /// latent values) the solve is for a_new. By conjugate gradients, (I + W s²K)⁻¹ v = v − W^½ A⁻¹ W^½ s² K v with
        /// A = I + W^½ s² K W^½ (<see cref="CurvatureKernelOperator"/>), preconditioned by low-rank factors of K
        /// (<see cref="CurvaturePreconditioner"/>), no factorization of N × N. When that solve does not reach its tolerance
        /// within <see cref="InferenceSettings.NewtonConjugateGradientSteps"/> (s² K W large), by the factors instead, and from
        /// then on at this s² and above (<see cref="NewtonStepChoice"/>).
        /// </summary>
        public (Tensor Next, Tensor P) NewtonWeights(Tensor latent, Tensor? weights, SolverSettings settings)
        {
            Tensor p = latent.softmax(1);
            Tensor v;
            if (weights is null)
            {
                Tensor d = latent - m;
                v = ((p * d) - p * (p * d).sum(1, keepdim: true)).Plus(y) - p;            // b = Λ (f − m) + y − p, per input: [N, C]
            }
            else v = (y - p) - weights;                                                    // b − (I + W s²K) a
            Tensor z = ByConjugateGradients(v, p, settings) ?? ByFactors(Factor(p, keepBlocks: true), v, p);
            return (weights is null ? z : weights.Plus(z), p);
        }

        private Tensor? ByConjugateGradients(Tensor b, Tensor p, SolverSettings settings)
        {
            if (!steps.TriesConjugateGradients(s2)) return null;                      // s² K W too large: factors, here and at larger s²
            Tensor root = CurvatureKernelOperator.CurvatureRoots(p);
            Tensor rhs = CurvatureKernelOperator.ApplyRoot(root, Kernel(b).Times(s2)).reshape(-1, 1);
            var inner = new SolverSettings(InferenceSettings.NewtonConjugateGradientTolerance, InferenceSettings.NewtonConjugateGradientSteps,
                                           settings.Cancellation);
            var preconditioner = factor is null ? null : new CurvaturePreconditioner(factor, p, root, s2);
            var solve = ConjugateGradients.Solve(new CurvatureKernelOperator(blocks, root, s2), rhs, preconditioner, inner);
            if (solve.Converged) return b - CurvatureKernelOperator.ApplyRoot(root, solve.Solution.reshape(N, C));
            steps.ConjugateGradientsFailed(s2);
            return null;
        }

        /// <summary>
        /// (I + W s²K)⁻¹ b by the factors of RW Algorithm 3.3, refined against the residual b − (I + W s²K) a computed directly
        /// (<see cref="InferenceSettings.NewtonRefinements"/> sweeps, while the residual shrinks): when some classes are
        /// nearly certain, Σ_c E_c is ill-conditioned and the factors alone give the step to about 1e-8, which held Newton's
        /// method at a gradient norm of 1e-7 of its start for a fit of 1,000 Fashion-MNIST images.
        /// </summary>
        private Tensor ByFactors(Factors f, Tensor b, Tensor p)
        {
            Tensor e = f.E!;
            Tensor Solve(Tensor r)
            {
                Tensor c = BlockDiagonal.Times(e, Kernel(r).Times(s2).t());                // E_c (s² K_c r_c): [C, N]
                Tensor z = cholesky_solve(c.sum(dim: 0).unsqueeze(1), f.M);                // (M Mᵀ)⁻¹ Rᵀ c: [N, 1]
                Tensor back = e.matmul(z.unsqueeze(0)).squeeze(2);                         // E_c z: [C, N]
                return (r - c.t()).Plus(back.t());
            }
            Tensor Residual(Tensor a)
            {
                Tensor ka = Kernel(a).Times(s2);
                return b - a - ((p * ka) - p * (p * ka).sum(1, keepdim: true));           // b − (I + W s²K) a
            }
            Tensor a = Solve(b), residual = Residual(a);
            double size = residual.norm().item<double>();
            for (int i = 0; i < InferenceSettings.NewtonRefinements && size > 0; i++)
            {
                Tensor refined = a + Solve(residual), next = Residual(refined);
                double nextSize = next.norm().item<double>();
                if (!(nextSize < size)) break;
                (a, residual, size) = (refined, next, nextSize);
            }
            return a;
        }

        /// <summary>A line search on Ψ from the state towards the Newton target (<see cref="SoftmaxLineSearch"/>); null when no step decreases Ψ.</summary>
        private State? LineSearch(State state, Tensor next)
        {
            Tensor direction = next - state.Weights;
            return SoftmaxLineSearch.Step(state.Latent, y, state.Latent - m, direction, Kernel(direction).Times(s2), state.Objective,
                                          t => Evaluate(state.Weights.Plus(direction.Times(t))), candidate => candidate.Objective);
        }
    }
}
