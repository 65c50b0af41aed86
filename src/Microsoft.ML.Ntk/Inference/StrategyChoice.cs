using Microsoft.ML.Ntk.Linearization;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Chooses the regression strategy from the number of training outputs n = N·C and of adapted parameters P:
/// dense while n ≤ <see cref="InferenceSettings.DenseLimit"/> and the explicit kernel is affordable (structured, or an explicit Jacobian
/// of at most 2 GiB); otherwise weight space when P ≤ n / 2 (its P-dimensional system is then the smaller one, as the
/// reference's measurements found) and the weight-space variance basis fits the memory budget; function space otherwise.
/// </summary>
internal static class StrategyChoice
{
    /// <summary>Whether an n × P float64 projected Jacobian fits the budget (<see cref="InferenceSettings.PredictionMemoryBudget"/> unless given).</summary>
    public static bool ProjectionFits(long n, long parameters, long budget = InferenceSettings.PredictionMemoryBudget) => n * parameters * sizeof(double) <= budget;

    /// <summary>Whether the training Jacobian by output [C, N, P] is formed and kept: no structured kernel, and it fits the prediction budget.</summary>
    public static bool KeepsJacobianByOutput(LinearizedNetwork network, PreparedInputs inputs, long rows) =>
        !network.HasStructuredKernel(inputs) && ProjectionFits(rows, network.Parameters.Count);

    /// <summary>Refuses a softmax Laplace fit whose n × n matrices would exceed <see cref="InferenceSettings.LaplaceMemoryBudget"/>.</summary>
    public static void CheckLaplaceFits(long n)
    {
        long bytes = InferenceSettings.LaplaceMatrices * n * n * sizeof(double);
        if (bytes > InferenceSettings.LaplaceMemoryBudget)
            throw new NotSupportedException($"The softmax Laplace posterior needs {InferenceSettings.LaplaceMatrices} explicit N·C × N·C matrices; at N·C = {n} " +
                                            $"they take {bytes / (double)(1L << 30):F1} GiB, beyond the budget of {InferenceSettings.LaplaceMemoryBudget >> 30} GiB. " +
                                            "Use the Gaussian likelihood (iterative strategies) or fewer training rows.");
    }

    /// <summary>
    /// Whether the explicit kernel and its Cholesky factor are affordable: n ≤ <see cref="InferenceSettings.DenseLimit"/>, and the kernel is
    /// structured, comes from an explicit Jacobian of at most <see cref="LinearizationSettings.MaxJacobianBytes"/>, or is summed
    /// layer by layer with an explicit part within that limit (a ResNet's last stage). The iterative strategies then take their
    /// predictive variances from the exact factor too.
    /// </summary>
    public static bool DenseAffordable(RegressionProblem problem) =>
        problem.Size <= InferenceSettings.DenseLimit && (problem.Network.HasStructuredKernel(problem.Inputs) ||
                                       problem.Size * problem.Network.Parameters.Count * sizeof(double) <= LinearizationSettings.MaxJacobianBytes ||
                                       problem.Network.LayerKernelFits(problem.Inputs));

    /// <summary>
    /// Whether a softmax fit of n = N·C latent values uses independent outputs: as asked, or when not asked (null) beyond
    /// <see cref="InferenceSettings.FullKernelLimit"/>. With one output the two are the same thing, and the full kernel is used.
    /// </summary>
    public static bool IndependentSoftmaxOutputs(bool? asked, long n, long outputs) =>
        outputs > 1 && (asked ?? n > InferenceSettings.FullKernelLimit);

    public static InferenceStrategy Choose(RegressionProblem problem, RegressionSettings settings)
    {
        if (settings.Strategy != InferenceStrategy.Auto) return settings.Strategy;
        long n = problem.Size, p = problem.Network.Parameters.Count;
        if (DenseAffordable(problem)) return InferenceStrategy.Dense;
        bool basisFits = p * Math.Min(settings.LanczosSteps, p) * sizeof(double) <= InferenceSettings.WeightSpaceBasisBudget;
        return p <= n / 2 && basisFits && !settings.IndependentOutputs ? InferenceStrategy.WeightSpace : InferenceStrategy.FunctionSpace;
    }
}
