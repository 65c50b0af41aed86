using System.Diagnostics;
using Microsoft.ML.Ntk.LinearAlgebra;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The weight-space strategy, for N·C ≫ P: hyperparameters by Lanczos quadrature of G = JᵀJ (see
/// <see cref="WeightSpaceMarginalLikelihood"/>; skipped when both are given), then Δθ = (G + (σ²/s²) I)⁻¹ Jᵀ (y − m) by
/// preconditioned conjugate gradients, and the weight-space Lanczos variance. While the explicit kernel is affordable, its
/// Cholesky factor gives the exact inverse of the system as preconditioner (<see cref="PushThroughPreconditioner"/>) and
/// the exact kernel-space variance; otherwise a randomized Nyström preconditioner. A constant mean is set by
/// generalized least squares at the final hyperparameters, through (s² J Jᵀ + σ² I)⁻¹ v = (v − J (G + (σ²/s²) I)⁻¹ Jᵀ v) / σ².
/// </summary>
internal static class WeightSpaceRegression
{
    public static RegressionPosterior Fit(RegressionProblem problem, RegressionSettings settings)
    {
        if (settings.IndependentOutputs)
            throw new NotSupportedException("Independent outputs need one copy of the parameters per output, which the weight-space " +
                                            "strategy does not build; use the dense or function-space strategy.");
        var clock = Stopwatch.StartNew();
        var solver = settings.SolverOrDefault;
        using var scope = NewDisposeScope();
        var network = problem.Network;
        var gaussNewton = new GaussNewtonOperator(network, problem.Inputs);
        double[] sampleMean = settings.Mean == PriorMean.Constant ? problem.SampleMean() : Array.Empty<double>();
        Tensor residual = problem.Targets - problem.PriorMeanValues(settings.Mean, sampleMean);
        Tensor projected = Transpose(problem, residual.unsqueeze(1))[.., 0];

        // With P ≥ N·C the Sylvester form needs log det(s² G + σ² I_P) to cancel (P − n) log σ² to every digit, which a
        // stochastic estimate does not (measured: σ² ran off to 1e-64); the function-space estimate of the same
        // likelihood is used then. Given both hyperparameters, no likelihood is estimated at all. The weight-space Lanczos
        // basis is built when the variance needs it (the explicit kernel is not affordable).
        bool given = settings.Hyperparameters.BothGiven, exactVariance = settings.ExactVariances ?? StrategyChoice.DenseAffordable(problem);
        bool parametersFewer = network.Parameters.Count < problem.Size;
        int steps = (int)Math.Min(settings.LanczosSteps, network.Parameters.Count);
        var weightSpace = given && exactVariance ? null
            : new WeightSpaceMarginalLikelihood(gaussNewton, projected, residual.Squared().sum().item<double>(), problem.Size,
                                                parametersFewer && !given ? settings.Probes : 0, steps, settings.Seed, sampleMean);
        IMarginalLikelihood? likelihood = given ? null : parametersFewer ? weightSpace
            : new LanczosMarginalLikelihood(new KernelOperator(network, problem.Inputs, problem.Outputs), residual, settings.Probes,
                                            (int)Math.Min(settings.LanczosSteps, problem.Size), settings.Seed, sampleMean);
        var learned = likelihood is null
            ? LearnedHyperparameters.Given(settings.PriorVariance!.Value, settings.NoiseVariance!.Value, sampleMean)
            : HyperparameterLearning.Learn(likelihood, settings.Hyperparameters, residual, settings.Mean,
                                           Traces.Hutchinson(gaussNewton, 4, settings.Seed) / problem.Size, solver);

        double ratio = learned.NoiseVariance / learned.PriorVariance;
        var system = gaussNewton.WithAddedDiagonal(ratio);
        var (exactRoot, jitter) = exactVariance ? DenseRegression.ExactRoot(problem, learned.PriorVariance, learned.NoiseVariance, independentOutputs: false)
                                                : (null, 0.0);
        IPreconditioner preconditioner = exactRoot is null
            ? new LowRankPlusNoisePreconditioner(NystromApproximation.Factor(gaussNewton, settings.PreconditionerRank, settings.Seed), ratio)
            : new PushThroughPreconditioner(network, problem.Inputs, problem.Outputs, exactRoot.LowerCholesky, learned.PriorVariance, learned.NoiseVariance);
        Tensor targets = settings.Mean == PriorMean.Constant ? problem.Targets : residual;
        Tensor columns = settings.Mean == PriorMean.Constant ? cat(new[] { targets.unsqueeze(1), Design(problem) }, 1) : targets.unsqueeze(1);
        var solve = ConjugateGradients.Solve(system, Transpose(problem, columns), preconditioner, solver);
        var (shift, constant) = settings.Mean == PriorMean.Constant
            ? ProfileConstant(problem, solve.Solution, columns, learned.NoiseVariance)
            : (solve.Solution[.., 0], sampleMean);

        var warnings = FitWarnings.Collect(learned, FitWarnings.ResidualScale(residual, settings.Mean), solve, solver);
        IPosteriorVariance variance;
        if (exactRoot is not null)
        {
            scope.MoveToOuter(exactRoot.LowerCholesky);
            variance = new KernelSpaceVariance(network, problem.InputsForPredictions(), exactRoot, learned.PriorVariance);
        }
        else
        {
            Tensor basis = weightSpace!.Basis.to(network.Parameters.DType);
            Tensor lower = KernelInverseRoot.TridiagonalFactor(weightSpace.ProjectedTridiagonal, learned.PriorVariance, learned.NoiseVariance);
            variance = new WeightSpaceVariance(network, scope.MoveToOuter(basis), scope.MoveToOuter(lower), learned.PriorVariance, learned.NoiseVariance);
            if (FitWarnings.LanczosVariance(basis.shape[1], Math.Min(problem.Size, network.Parameters.Count)) is { } warning) warnings.Add(warning);
        }
        var report = FitReport.Regression(InferenceStrategy.WeightSpace, learned, constant, solve, jitter, clock.Elapsed, warnings, settings.IndependentOutputs);
        return new RegressionPosterior(network, settings.Mean, constant, learned.PriorVariance, learned.NoiseVariance,
                                       scope.MoveToOuter(shift.contiguous()), variance, report);
    }

    /// <summary>Jᵀ V for columns V [N·C, k] over the training outputs; returns [P, k] in float64.</summary>
    private static Tensor Transpose(RegressionProblem problem, Tensor columns)
    {
        long k = columns.shape[1];
        Tensor cotangents = columns.t().reshape(k, problem.Count, problem.Outputs).to(problem.Network.Parameters.DType);
        return problem.Network.Vjp(problem.Inputs, cotangents).to(ScalarType.Float64).t();
    }

    private static Tensor Design(RegressionProblem problem) => eye(problem.Outputs, dtype: ScalarType.Float64).repeat(problem.Count, 1);

    /// <summary>From S = (G + λI)⁻¹ Jᵀ [y, H]: K⁻¹ v = (v − J S_v)/σ², then b by generalized least squares and Δθ = S_y − S_H b.</summary>
    private static (Tensor Shift, double[] Constant) ProfileConstant(RegressionProblem problem, Tensor solutions, Tensor columns, double noiseVariance)
    {
        long k = solutions.shape[1];
        Tensor js = problem.Network.Jvp(problem.Inputs, solutions.t().contiguous().to(problem.Network.Parameters.DType))
                           .to(ScalarType.Float64).reshape(k, -1).t();                                             // J S: [N·C, k]
        Tensor kInv = (columns - js).Over(noiseVariance);                                                              // K⁻¹ [y, H]
        Tensor h = columns[.., 1..];
        Tensor b = ConstantMeanProfile.Coefficients(h, kInv[.., 0], kInv[.., 1..]);
        return (solutions[.., 0] - solutions[.., 1..].matmul(b), b.data<double>().ToArray());
    }
}
