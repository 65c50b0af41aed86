using System.Diagnostics;
using Microsoft.ML.Ntk.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The function-space strategy, matrix-free: hyperparameters by stochastic Lanczos quadrature of the marginal likelihood
/// (one tridiagonalization of K0 serves every (s², σ²); skipped when both are given), then α = (s² K0 + σ² I)⁻¹ (y − m) by
/// preconditioned conjugate gradients. While the explicit kernel is affordable, its Cholesky factor is both the
/// preconditioner (CG then converges in one or two iterations) and the exact variance root; otherwise a pivoted-Cholesky
/// preconditioner on the kernel's diagonal bound and the Lanczos root of the residual's Krylov space, whose variances
/// are upper bounds (said in the report's warnings).
/// A constant mean is set by generalized least squares at the final hyperparameters (the search holds it at the
/// per-output sample mean).
/// </summary>
internal static class FunctionSpaceRegression
{
    public static RegressionPosterior Fit(RegressionProblem problem, RegressionSettings settings)
    {
        var clock = Stopwatch.StartNew();
        var solver = settings.SolverOrDefault;
        using var scope = NewDisposeScope();
        var kernel = new KernelOperator(problem.Network, problem.Inputs, problem.Outputs, settings.IndependentOutputs);
        double[] sampleMean = settings.Mean == PriorMean.Constant ? problem.SampleMean() : Array.Empty<double>();
        Tensor residual = problem.Targets - problem.PriorMeanValues(settings.Mean, sampleMean);

        int steps = (int)Math.Min(settings.LanczosSteps, problem.Size);
        bool given = settings.Hyperparameters.BothGiven;
        var likelihood = given ? null : new LanczosMarginalLikelihood(kernel, residual, settings.Probes, steps, settings.Seed, sampleMean);
        var learned = likelihood is null
            ? LearnedHyperparameters.Given(settings.PriorVariance!.Value, settings.NoiseVariance!.Value, sampleMean)
            : HyperparameterLearning.Learn(likelihood, settings.Hyperparameters, residual, settings.Mean,
                                           Traces.Hutchinson(kernel, 4, settings.Seed) / problem.Size, solver);

        var system = kernel.Scaled(learned.PriorVariance).WithAddedDiagonal(learned.NoiseVariance);
        bool exact = settings.ExactVariances ?? StrategyChoice.DenseAffordable(problem);
        var (exactRoot, jitter) = exact ? DenseRegression.ExactRoot(problem, learned.PriorVariance, learned.NoiseVariance, settings.IndependentOutputs)
                                        : (null, 0.0);
        var preconditioner = exactRoot is null ? PivotedPreconditioner(problem, settings, learned, kernel)
                                               : new CholeskyPreconditioner(exactRoot.LowerCholesky);

        Tensor targets = problem.Targets - problem.PriorMeanValues(settings.Mean == PriorMean.Constant ? PriorMean.Zero : settings.Mean, sampleMean);
        Tensor rhs = settings.Mean == PriorMean.Constant ? cat(new[] { targets.unsqueeze(1), Design(problem) }, 1) : targets.unsqueeze(1);
        var solve = ConjugateGradients.Solve(system, rhs, preconditioner, solver);
        var (alpha, constant) = settings.Mean == PriorMean.Constant ? ProfileConstant(solve.Solution, rhs) : (solve.Solution[.., 0], sampleMean);
        Tensor shift = DenseRegression.ParameterShift(problem, alpha, learned.PriorVariance, settings.IndependentOutputs);
        var warnings = FitWarnings.Collect(learned, FitWarnings.ResidualScale(residual, settings.Mean), solve, solver);
        var root = exactRoot ?? LanczosRoot(problem, settings, learned, kernel, residual, likelihood, warnings);

        var report = FitReport.Regression(InferenceStrategy.FunctionSpace, learned, constant, solve, jitter, clock.Elapsed, warnings, settings.IndependentOutputs);
        return new RegressionPosterior(problem.Network, settings.Mean, constant, learned.PriorVariance, learned.NoiseVariance,
                                       scope.MoveToOuter(shift), new KernelSpaceVariance(problem.Network, problem.InputsForPredictions(), Keep(root, scope), learned.PriorVariance,
                                                                                       settings.IndependentOutputs),
                                       report);
    }

    /// <summary>The pivoted-Cholesky preconditioner of s² K0 + σ² I, from the kernel's diagonal bound.</summary>
    private static IPreconditioner PivotedPreconditioner(RegressionProblem problem, RegressionSettings settings, LearnedHyperparameters learned,
                                                         KernelOperator kernel)
    {
        Tensor bound = problem.Network.KernelDiagonalBound(problem.Inputs).reshape(-1);
        Tensor factor = PivotedCholesky.Factor(kernel.Scaled(learned.PriorVariance), settings.PreconditionerRank, diagonal: bound.Times(learned.PriorVariance));
        return new LowRankPlusNoisePreconditioner(factor, learned.NoiseVariance);
    }

    /// <summary>The Lanczos root of the residual's Krylov space (from the likelihood's run, or a run of its own), with its warning.</summary>
    private static KernelInverseRoot LanczosRoot(RegressionProblem problem, RegressionSettings settings, LearnedHyperparameters learned,
                                                 KernelOperator kernel, Tensor residual, LanczosMarginalLikelihood? likelihood, List<string> warnings)
    {
        var quadrature = likelihood is null ? new LanczosQuadrature(kernel, residual, probes: 0, (int)Math.Min(settings.LanczosSteps, problem.Size), settings.Seed) : null;
        Tensor basis = likelihood?.Basis ?? quadrature!.Basis, tridiagonal = likelihood?.ResidualTridiagonal ?? quadrature!.Tridiagonal;
        if (FitWarnings.LanczosVariance(basis.shape[1], problem.Size) is { } warning) warnings.Add(warning);
        return KernelInverseRoot.FromLanczos(basis, tridiagonal, learned.PriorVariance, learned.NoiseVariance);
    }

    /// <summary>H: column c is the indicator of output c, [N·C, C].</summary>
    private static Tensor Design(RegressionProblem problem) =>
        eye(problem.Outputs, dtype: ScalarType.Float64).repeat(problem.Count, 1);

    /// <summary>From K⁻¹ [y, H]: b = (Hᵀ K⁻¹ H)⁻¹ Hᵀ K⁻¹ y and α = K⁻¹ y − K⁻¹ H b.</summary>
    private static (Tensor Alpha, double[] Constant) ProfileConstant(Tensor solutions, Tensor rhs)
    {
        Tensor kInvY = solutions[.., 0], kInvH = solutions[.., 1..];
        Tensor h = rhs[.., 1..];
        Tensor b = ConstantMeanProfile.Coefficients(h, kInvY, kInvH);
        return (kInvY - kInvH.matmul(b), b.data<double>().ToArray());
    }

    private static KernelInverseRoot Keep(KernelInverseRoot root, DisposeScope scope)
    {
        scope.MoveToOuter(root.LowerCholesky);
        if (root.LeftFactor is not null) scope.MoveToOuter(root.LeftFactor);
        return root;
    }
}
