using System.Diagnostics;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The dense strategy: the explicit kernel K0 = J Jᵀ (structured for fully connected heads), hyperparameters by the exact
/// marginal likelihood in K0's eigenbasis, then one Cholesky factorization of s² K0 + σ² I (with jitter if needed).
/// </summary>
internal static class DenseRegression
{
    public static RegressionPosterior Fit(RegressionProblem problem, RegressionSettings settings)
    {
        var clock = Stopwatch.StartNew();
        var cancellation = settings.SolverOrDefault.Cancellation;
        using var scope = NewDisposeScope();
        Tensor kernel = problem.Network.Kernel(problem.Inputs, problem.Inputs);
        if (settings.IndependentOutputs) kernel = OutputCoupling.Independent(kernel, problem.Outputs);
        cancellation.ThrowIfCancellationRequested();

        Tensor baseline = settings.Mean == PriorMean.Constant ? zeros_like(problem.Targets) : problem.PriorMeanValues(settings.Mean, Array.Empty<double>());
        Tensor centered = problem.Targets - baseline;
        var likelihood = new ExactMarginalLikelihood(kernel, centered, settings.Mean == PriorMean.Constant ? (int)problem.Outputs : null);
        var learned = HyperparameterLearning.Learn(likelihood, settings.Hyperparameters, centered, settings.Mean,
                                                   kernel.diagonal().mean().item<double>(), settings.SolverOrDefault);

        Tensor system = kernel.Times(learned.PriorVariance).Plus(eye(problem.Size, dtype: ScalarType.Float64).Times(learned.NoiseVariance));
        var cholesky = DenseCholesky.Factor(system);
        Tensor residual = problem.Targets - problem.PriorMeanValues(settings.Mean, learned.ConstantMean);
        Tensor alpha = cholesky.Solve(residual.unsqueeze(1)).squeeze(1);
        Tensor shift = ParameterShift(problem, alpha, learned.PriorVariance, settings.IndependentOutputs);

        var warnings = FitWarnings.Collect(learned, FitWarnings.ResidualScale(centered, settings.Mean));
        if (cholesky.Jitter > 0) warnings.Add($"A jitter of {cholesky.Jitter:E2} was added to the kernel's diagonal.");
        var report = FitReport.Regression(InferenceStrategy.Dense, learned, learned.ConstantMean, solve: null, cholesky.Jitter, clock.Elapsed, warnings, settings.IndependentOutputs);
        return new RegressionPosterior(problem.Network, settings.Mean, learned.ConstantMean, learned.PriorVariance, learned.NoiseVariance,
                                       scope.MoveToOuter(shift),
                                       new KernelSpaceVariance(problem.Network, problem.InputsForPredictions(), KernelInverseRoot.FromCholesky(scope.MoveToOuter(cholesky.Lower)), learned.PriorVariance,
                                                               settings.IndependentOutputs),
                                       report);
    }

    /// <summary>
    /// The exact variance root L⁻ᵀ of (s² K0 + σ² I)⁻¹ from the explicit kernel (structured, or J Jᵀ), with the jitter the
    /// factorization needed: what the iterative strategies use for variances while <see cref="StrategyChoice.DenseAffordable"/>.
    /// </summary>
    internal static (KernelInverseRoot Root, double Jitter) ExactRoot(RegressionProblem problem, double priorVariance, double noiseVariance,
                                                                   bool independentOutputs)
    {
        using var scope = NewDisposeScope();
        Tensor kernel = problem.Network.Kernel(problem.Inputs, problem.Inputs);
        if (independentOutputs) kernel = OutputCoupling.Independent(kernel, problem.Outputs);
        var cholesky = DenseCholesky.Factor(kernel.Times(priorVariance).Plus(eye(problem.Size, dtype: ScalarType.Float64).Times(noiseVariance)));
        return (KernelInverseRoot.FromCholesky(scope.MoveToOuter(cholesky.Lower)), cholesky.Jitter);
    }

    /// <summary>
    /// Δθ = s² Jᵀ α in float64: [P], or [C, P] (one shift per output) with independent outputs, from the training Jacobian by
    /// output [C, N, P] when the caller has it (<paramref name="rowsByOutput"/>), else by backward passes.
    /// </summary>
    internal static Tensor ParameterShift(RegressionProblem problem, Tensor alpha, double priorVariance, bool independentOutputs = false,
                                          Tensor? rowsByOutput = null)
    {
        if (independentOutputs && rowsByOutput is not null)
            return alpha.reshape(problem.Count, problem.Outputs).t().unsqueeze(1).bmm(rowsByOutput).squeeze(1).Times(priorVariance);
        Tensor cotangent = independentOutputs
            ? OutputCoupling.PerOutput(alpha, problem.Count, problem.Outputs)
            : alpha.reshape(1, problem.Count, problem.Outputs);
        Tensor shifts = problem.Network.Vjp(problem.Inputs, cotangent.to(problem.Network.Parameters.DType)).to(ScalarType.Float64).Times(priorVariance);
        return independentOutputs ? shifts : shifts[0];
    }
}
