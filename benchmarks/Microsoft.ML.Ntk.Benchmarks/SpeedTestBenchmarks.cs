using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// The reference implementation's own speed test: an MLP 5-200-2000-200-1 with ELU (P = 803,601), N = 300 training points,
/// s² = 1 and σ² = 0.01 given (not learned), then the predictive mean and variance at 50 points. Each strategy, forced,
/// fits and predicts in float64 (what the trainers do). The reference (finite_ntk, PyTorch 1.13, this machine's 2 cores)
/// took 723 s in function space and 120 s in weight space for the fit and 50 means (notes of the platform).
/// </summary>
[Config(typeof(AdaptationConfig))]
public class SpeedTestBenchmarks
{
    private nn.Module<Tensor, Tensor> network = null!;
    private Tensor x = null!, y = null!, queries = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        network = Architectures.Mlp(5, new long[] { 200, 2000, 200 }, 1, () => nn.ELU());
        network.to(ScalarType.Float64);
        network.eval();
        x = randn(300, 5, dtype: ScalarType.Float64);
        y = x[.., 0].sin().unsqueeze(1) + 0.1 * randn(300, 1, dtype: ScalarType.Float64);
        queries = randn(50, 5, dtype: ScalarType.Float64);
    }

    [Params(InferenceStrategy.Dense, InferenceStrategy.FunctionSpace, InferenceStrategy.WeightSpace)]
    public InferenceStrategy Strategy { get; set; }

    [Benchmark(Description = "fit (s², σ² given) + 50 means and variances")]
    public void FitAndPredict()
    {
        using var scope = NewDisposeScope();
        var linearized = new LinearizedNetwork(network, ParameterSelection.All);
        var posterior = GaussianProcessRegression.Fit(linearized, x, y, new RegressionSettings(PriorVariance: 1.0, NoiseVariance: 0.01, Strategy: Strategy));
        posterior.Predict(queries);
        Console.WriteLine($"// {Strategy}: {posterior.Report}");
    }
}
