using Microsoft.ML.Ntk.Linearization;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Chooses the regression strategy from the number of training outputs n = N·C and of adapted parameters P:
/// dense while n ≤ <see cref="DenseLimit"/> and the explicit kernel is affordable (structured, or an explicit Jacobian
/// of at most 2 GiB); otherwise weight space when P ≤ n / 2 (its P-dimensional system is then the smaller one, as the
/// reference's measurements found) and the weight-space variance basis fits the memory budget; function space otherwise.
/// </summary>
internal static class StrategyChoice
{
    /// <summary>The largest n for the dense strategy: an n² float64 kernel of 200 MB and a Cholesky of a few seconds.</summary>
    public const long DenseLimit = 5000;

    /// <summary>The most bytes the weight-space variance basis (P × Lanczos steps) may take: 2 GiB.</summary>
    public const long WeightSpaceBasisBudget = 2L << 30;

    public static InferenceStrategy Choose(RegressionProblem problem, RegressionSettings settings)
    {
        if (settings.Strategy != InferenceStrategy.Auto) return settings.Strategy;
        long n = problem.Size, p = problem.Network.Parameters.Count;
        bool explicitKernelAffordable = problem.Network.HasStructuredKernel(problem.Inputs) ||
                                        n * p * sizeof(double) <= ExplicitKernel.MaxJacobianBytes;
        if (n <= DenseLimit && explicitKernelAffordable) return InferenceStrategy.Dense;
        bool basisFits = p * Math.Min(settings.LanczosSteps, p) * sizeof(double) <= WeightSpaceBasisBudget;
        return p <= n / 2 && basisFits && !settings.IndependentOutputs ? InferenceStrategy.WeightSpace : InferenceStrategy.FunctionSpace;
    }
}
