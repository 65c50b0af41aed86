using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// The size the Fashion-MNIST example needs: a softmax fit of 1,000 images of 10 classes (N·C = 10,000) on the small CNN
/// (3×16×16, P = 5,514, seeded random weights and images), s² by the evidence, with the full cross-output kernel or with
/// independent outputs (the evidence search on ten 1,000 × 1,000 blocks). One run each (LongFitConfig).
/// </summary>
[Config(typeof(LongFitConfig))]
public class ThousandImagesBenchmarks
{
    private nn.Module<Tensor, Tensor> network = null!;
    private Tensor x = null!, y = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        network = Architectures.SmallCnn(3, 10);
        network.to(ScalarType.Float64);
        network.eval();
        x = rand(1000, 3, 16, 16, dtype: ScalarType.Float64);
        y = randint(0, 10, 1000, dtype: ScalarType.Int64);
    }

    [Params(false, true)]
    public bool IndependentOutputs { get; set; }

    [Benchmark(Description = "softmax fit, 1,000 images of 10 classes")]
    public void Fit()
    {
        using var scope = NewDisposeScope();
        var posterior = GaussianProcessClassification.Fit(new LinearizedNetwork(network, ParameterSelection.All), x, y,
                                                          new ClassificationSettings(IndependentOutputs: IndependentOutputs));
        Console.WriteLine($"// independent {IndependentOutputs}: {posterior.Report}");
    }
}
