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

    /// <summary>
    /// The most bytes the softmax Laplace posterior may hold in n × n float64 matrices: the kernel, the matrix B and its
    /// Cholesky factor, and two temporaries while B is formed, five in all (n = 11,500 at 5 GiB, what the dense regression
    /// already takes at n = 5,000). Its cost grows as n³/3 flops per Newton step (about 1.7 s at n = 9,000 on two cores);
    /// with independent outputs the evidence search costs C factorizations of N × N per step instead, and only the final
    /// mode one of n × n.
    /// </summary>
    public const long LaplaceMemoryBudget = 5L << 30;

    /// <summary>n × n float64 matrices the softmax Laplace fit holds at once.</summary>
    private const int LaplaceMatrices = 5;

    /// <summary>
    /// The most bytes a fitted posterior may keep to make predictions cheap: the projected training Jacobian Rᵀ J(X),
    /// N·C × P float64 values (1 GiB: N·C = 1,000 rows of 134k parameters).
    /// </summary>
    public const long PredictionMemoryBudget = 1L << 30;

    /// <summary>Whether an n × P float64 projected Jacobian fits <see cref="PredictionMemoryBudget"/>.</summary>
    public static bool ProjectionFits(long n, long parameters) => n * parameters * sizeof(double) <= PredictionMemoryBudget;

    /// <summary>Refuses a softmax Laplace fit whose n × n matrices would exceed <see cref="LaplaceMemoryBudget"/>.</summary>
    public static void CheckLaplaceFits(long n)
    {
        long bytes = LaplaceMatrices * n * n * sizeof(double);
        if (bytes > LaplaceMemoryBudget)
            throw new NotSupportedException($"The softmax Laplace posterior needs {LaplaceMatrices} explicit N·C × N·C matrices; at N·C = {n} " +
                                            $"they take {bytes / (double)(1L << 30):F1} GiB, beyond the budget of {LaplaceMemoryBudget >> 30} GiB. " +
                                            "Use the Gaussian likelihood (iterative strategies) or fewer training rows.");
    }

    /// <summary>
    /// Whether the explicit kernel and its Cholesky factor are affordable: n ≤ <see cref="DenseLimit"/>, and the kernel is
    /// structured or comes from an explicit Jacobian of at most <see cref="ExplicitKernel.MaxJacobianBytes"/>. The iterative
    /// strategies then take their predictive variances from the exact factor too.
    /// </summary>
    public static bool DenseAffordable(RegressionProblem problem) =>
        problem.Size <= DenseLimit && (problem.Network.HasStructuredKernel(problem.Inputs) ||
                                       problem.Size * problem.Network.Parameters.Count * sizeof(double) <= ExplicitKernel.MaxJacobianBytes);

    public static InferenceStrategy Choose(RegressionProblem problem, RegressionSettings settings)
    {
        if (settings.Strategy != InferenceStrategy.Auto) return settings.Strategy;
        long n = problem.Size, p = problem.Network.Parameters.Count;
        if (DenseAffordable(problem)) return InferenceStrategy.Dense;
        bool basisFits = p * Math.Min(settings.LanczosSteps, p) * sizeof(double) <= WeightSpaceBasisBudget;
        return p <= n / 2 && basisFits && !settings.IndependentOutputs ? InferenceStrategy.WeightSpace : InferenceStrategy.FunctionSpace;
    }
}
