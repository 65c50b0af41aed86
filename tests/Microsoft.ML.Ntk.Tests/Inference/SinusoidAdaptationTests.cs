using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class SinusoidAdaptationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// An MLP 1-40-40-1 (tanh) pretrained on y = sin(x) is adapted, from 10 noisy points, to the shifted task
    /// y = 1.6 sin(x + 0.7). The linearized GP (learned hyperparameters) must beat the unadapted network on a test grid
    /// by a wide margin, and its ±2σ band must cover most of the test points.
    /// </summary>
    [Fact]
    public void TheLinearizedGpOfAPretrainedMlpBeatsTheUnadaptedNetwork()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(3);
        var module = Architectures.Mlp(1, new long[] { 40, 40 }, 1, () => nn.Tanh()).to(ScalarType.Float64);
        Pretrain(module, x => x.sin());
        module.eval();

        Tensor Target(Tensor x) => 1.6 * (x + 0.7).sin();
        Tensor trainX = rand(10, 1, dtype: ScalarType.Float64) * 10 - 5;
        Tensor trainY = Target(trainX) + 0.05 * randn(10, 1, dtype: ScalarType.Float64);
        Tensor testX = linspace(-5, 5, 200, dtype: ScalarType.Float64).unsqueeze(1);
        Tensor testY = Target(testX);

        var network = new LinearizedNetwork(module, ParameterSelection.All);
        var posterior = DenseRegression.Fit(new RegressionProblem(network, trainX, trainY), new RegressionSettings());
        var prediction = posterior.Predict(testX);
        double adapted = (prediction.Mean - testY).square().mean().item<double>();
        double unadapted;
        using (no_grad()) unadapted = (module.call(testX) - testY).square().mean().item<double>();
        Assert.True(adapted < 0.5 * unadapted, $"test MSE: adapted {adapted:F4}, unadapted {unadapted:F4} ({posterior.Report})");

        Tensor z = (prediction.Mean - testY).abs() / prediction.PredictiveVariance.sqrt();
        double coverage = (z <= 2).to(ScalarType.Float64).mean().item<double>();
        output.WriteLine($"test MSE adapted {adapted:F5}, unadapted {unadapted:F5}; ±2σ coverage {coverage:P1}; {posterior.Report}");
        Assert.True(coverage >= 0.6, $"only {coverage:P0} of the test points lie within ±2σ");
    }

    private static void Pretrain(nn.Module<Tensor, Tensor> module, Func<Tensor, Tensor> task)
    {
        module.train();
        var optimizer = optim.Adam(module.parameters(), lr: 0.01);
        Tensor x = linspace(-5, 5, 200, dtype: ScalarType.Float64).unsqueeze(1), y = task(x);
        for (int step = 0; step < 1500; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            (module.call(x) - y).square().mean().backward();
            optimizer.step();
        }
    }
}
