using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// The Ntk fit (baseline) against fine-tuning the same network with Adam (learning rate 1e-3, full batch) on the same
/// data until its training MSE reaches the Ntk posterior mean's training MSE (capped at 20,000 steps): an MLP
/// 1-256-256-256-1 (P = 132k) pretrained on y = sin(x), adapted to y = 1.5 sin(1.3 x + 0.5) from N = 500 noisy points.
/// </summary>
[Config(typeof(FitConfig))]
public class FineTuningBenchmarks
{
    private nn.Module<Tensor, Tensor> pretrained = null!;
    private Tensor x = null!, y = null!;
    private double ntkTrainingError = double.NaN;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        pretrained = Architectures.Mlp(1, new long[] { 256, 256, 256 }, 1, () => nn.Tanh());
        Train(pretrained, rand(2000, 1) * 10 - 5, t => t.sin(), steps: 1500, stopBelow: 0);
        x = rand(500, 1) * 10 - 5;
        y = 1.5 * (1.3 * x + 0.5).sin() + 0.05 * randn_like(x);
        var posterior = GaussianProcessRegression.Fit(new LinearizedNetwork(Copy(), ParameterSelection.All), x, y, new RegressionSettings());
        ntkTrainingError = (posterior.Predict(x).Mean - y.to(ScalarType.Float64)).square().mean().item<double>();
    }

    [Benchmark(Baseline = true, Description = "Ntk fit (dense, learned s², σ²)")]
    public void Ntk()
    {
        using var scope = NewDisposeScope();
        var posterior = GaussianProcessRegression.Fit(new LinearizedNetwork(Copy(), ParameterSelection.All), x, y, new RegressionSettings());
        Console.WriteLine($"// ntk: training MSE {ntkTrainingError:E3}; {posterior.Report}");
    }

    [Benchmark(Description = "fine-tuning (Adam) to the same training MSE")]
    public void FineTune()
    {
        using var scope = NewDisposeScope();
        var (steps, error) = Train(Copy(), x, _ => y, steps: 20000, stopBelow: ntkTrainingError);
        Console.WriteLine($"// fine-tuning: {steps} steps, training MSE {error:E3} (target {ntkTrainingError:E3})");
    }

    private nn.Module<Tensor, Tensor> Copy()
    {
        var copy = Architectures.Mlp(1, new long[] { 256, 256, 256 }, 1, () => nn.Tanh());
        copy.load_state_dict(pretrained.state_dict());
        copy.eval();
        return copy;
    }

    private static (int Steps, double Error) Train(nn.Module<Tensor, Tensor> module, Tensor inputs, Func<Tensor, Tensor> target, int steps, double stopBelow)
    {
        module.train();
        var optimizer = optim.Adam(module.parameters(), lr: 1e-3);
        Tensor targets = target(inputs);
        double error = double.NaN;
        int step = 0;
        for (; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = (module.call(inputs) - targets).square().mean();
            error = loss.item<float>();
            if (error <= stopBelow) break;
            loss.backward();
            optimizer.step();
        }
        module.eval();
        return (step, error);
    }
}
