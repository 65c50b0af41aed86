using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>Regression with the linearized network's Jacobian kernel: one entry point over the three strategies.</summary>
internal static class GaussianProcessRegression
{
    /// <summary>Fits the posterior to inputs X [N, ...] and targets Y [N, C].</summary>
    public static RegressionPosterior Fit(LinearizedNetwork network, Tensor inputs, Tensor targets, RegressionSettings settings)
    {
        settings.Hyperparameters.Validate();
        settings.SolverOrDefault.Validate();
        return Fit(new RegressionProblem(network, inputs, targets), settings);
    }

    public static RegressionPosterior Fit(RegressionProblem problem, RegressionSettings settings)
    {
        return StrategyChoice.Choose(problem, settings) switch
        {
            InferenceStrategy.Dense => DenseRegression.Fit(problem, settings),
            InferenceStrategy.WeightSpace => WeightSpaceRegression.Fit(problem, settings),
            _ => FunctionSpaceRegression.Fit(problem, settings),
        };
    }
}
