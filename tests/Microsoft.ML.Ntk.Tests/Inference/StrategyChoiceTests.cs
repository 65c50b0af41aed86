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
    public void SoftmaxFitsUseTheAskedCouplingOrChooseByTheNumberOfLatentValues()
    {
        long limit = InferenceSettings.FullKernelLimit;
        Assert.False(StrategyChoice.IndependentSoftmaxOutputs(null, limit, outputs: 10));
        Assert.True(StrategyChoice.IndependentSoftmaxOutputs(null, limit + 1, outputs: 10));
        Assert.True(StrategyChoice.IndependentSoftmaxOutputs(true, 20, outputs: 10));
        Assert.False(StrategyChoice.IndependentSoftmaxOutputs(false, 100 * limit, outputs: 10));
        Assert.False(StrategyChoice.IndependentSoftmaxOutputs(null, 10 * limit, outputs: 1));     // one output: nothing to couple
        Assert.False(StrategyChoice.IndependentSoftmaxOutputs(true, 10 * limit, outputs: 1));
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

    /// <summary>
    /// A convolution before a fully connected part of 13.6M parameters, N = 24: its explicit Jacobian (2.6 GB) exceeds the 2 GiB
    /// limit and the head is not a structured one, but the layer sums form the kernel (the fully connected layers by their factors,
    /// the convolution's 20 parameters explicitly), so Auto picks Dense; with a grouped convolution holding many parameters it does not.
    /// </summary>
    [Fact]
    public void AutoPicksDenseWhenTheLayerSumsFormTheKernelThoughJWouldNotFit()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(62);
        var network = nn.Sequential(nn.Conv2d(1, 2, 3, padding: 1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3000), nn.Tanh(), nn.Linear(3000, 4500),
                                    nn.Tanh(), nn.Linear(4500, 1)).to(ScalarType.Float64);
        network.eval();
        Tensor x = randn(24, 1, 4, 4, dtype: ScalarType.Float64);
        var linearized = new LinearizedNetwork(network, ParameterSelection.All);
        var problem = new RegressionProblem(linearized, x, x.sum(new long[] { 1, 2, 3 }).unsqueeze(1));
        Assert.True(problem.Size * linearized.Parameters.Count * sizeof(double) > LinearizationSettings.MaxJacobianBytes);
        Assert.False(linearized.HasStructuredKernel(problem.Inputs));
        Assert.True(linearized.LayerKernelFits(problem.Inputs));
        Assert.Equal(InferenceStrategy.Dense, StrategyChoice.Choose(problem, new RegressionSettings()));
        var posterior = GaussianProcessRegression.Fit(linearized, x, x.sum(new long[] { 1, 2, 3 }).unsqueeze(1), new RegressionSettings());
        Assert.Equal(InferenceStrategy.Dense, posterior.Report.Strategy);
        var prediction = posterior.Predict(x.narrow(0, 0, 3));                                   // the cross kernel from the kept layer parts
        Assert.True(prediction.PredictiveVariance.gt(0).all().item<bool>() && prediction.Mean.isfinite().all().item<bool>());

        // 80,000 parameters of a grouped convolution, whose gradients stay explicit: 4,500 × 80,000 values exceed the limit.
        var convolutional = nn.Sequential(nn.Conv2d(1, 400, 3, padding: 1), nn.ReLU(), nn.Conv2d(400, 8000, 3, padding: 1, groups: 400),
                                          nn.ReLU(), nn.AdaptiveAvgPool2d(new long[] { 1, 1 }), nn.Flatten(), nn.Linear(8000, 1)).to(ScalarType.Float64);
        convolutional.eval();
        var grouped = new LinearizedNetwork(convolutional, ParameterSelection.All, batchSize: 16);
        using var prepared = grouped.Prepare(randn(4500, 1, 4, 4, dtype: ScalarType.Float64));
        Assert.False(grouped.LayerKernelFits(prepared));
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
