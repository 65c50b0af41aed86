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
        using var problem = new RegressionProblem(network, inputs, targets);
        return Fit(problem, settings);
    }

    public static RegressionPosterior Fit(RegressionProblem problem, RegressionSettings settings)
    {
        // One value cannot tell prior from noise: the marginal likelihood is flat along a ridge of (s², σ²), and each strategy's
        // search would stop at another point of it.
        if (problem.Size < 2 && settings.PriorVariance is null && settings.NoiseVariance is null)
            throw new ArgumentException("One training value cannot determine both the prior variance and the noise variance; set PriorVariance " +
                                        "or NoiseVariance (or give more rows).");
        return StrategyChoice.Choose(problem, settings) switch
        {
            InferenceStrategy.Dense => DenseRegression.Fit(problem, settings),
            InferenceStrategy.WeightSpace => WeightSpaceRegression.Fit(problem, settings),
            _ => FunctionSpaceRegression.Fit(problem, settings),
        };
    }
}
