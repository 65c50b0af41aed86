using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class StrategyChoiceTests
{
    [Fact]
    public void AutoPicksDenseForSmallProblemsAndTheUserCanOverride()
    {
        var (network, x, y) = Problem(samples: 50, hidden: 8);
        var problem = new RegressionProblem(network, x, y);
        Assert.Equal(InferenceStrategy.Dense, StrategyChoice.Choose(problem, new RegressionSettings()));
        foreach (var forced in new[] { InferenceStrategy.FunctionSpace, InferenceStrategy.WeightSpace, InferenceStrategy.Dense })
            Assert.Equal(forced, StrategyChoice.Choose(problem, new RegressionSettings(Strategy: forced)));
        Assert.Equal(InferenceStrategy.Dense, GaussianProcessRegression.Fit(network, x, y, new RegressionSettings()).Report.Strategy);
    }

    [Fact]
    public void AutoPicksWeightSpaceWhenOutputsFarOutnumberParameters()
    {
        var (network, x, y) = Problem(samples: 6000, hidden: 4);   // n = 6000 > dense limit, P = 13
        var problem = new RegressionProblem(network, x, y);
        Assert.Equal(InferenceStrategy.WeightSpace, StrategyChoice.Choose(problem, new RegressionSettings()));
    }

    [Fact]
    public void AutoPicksFunctionSpaceWhenParametersOutnumberOutputs()
    {
        var (network, x, y) = Problem(samples: 6000, hidden: 200);  // n = 6000 > the dense limit, P = 601 ≤ n / 2: weight space
        Assert.Equal(InferenceStrategy.WeightSpace, StrategyChoice.Choose(new RegressionProblem(network, x, y), new RegressionSettings()));
        var (wide, wx, wy) = Problem(samples: 6000, hidden: 4000);  // P = 12001 > n / 2: function space
        Assert.Equal(InferenceStrategy.FunctionSpace, StrategyChoice.Choose(new RegressionProblem(wide, wx, wy), new RegressionSettings()));
    }

    private static (LinearizedNetwork Network, Tensor X, Tensor Y) Problem(long samples, long hidden)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(61);
        var mlp = Architectures.Mlp(1, new long[] { hidden }, 1, () => nn.Tanh()).to(ScalarType.Float64);
        mlp.eval();
        Tensor x = randn(samples, 1, dtype: ScalarType.Float64);
        return (new LinearizedNetwork(mlp, ParameterSelection.All), x, x.sin());
    }
}
