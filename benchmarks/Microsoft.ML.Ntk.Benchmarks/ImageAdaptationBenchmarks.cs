using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// ImageTransfer's 50-labels-per-class case without the image files: the small CNN (3×16×16, 5 classes, P = 5,349)
/// pretrained on a source task of class-dependent blobs, adapted to a shifted target (other colours, noise) from 250
/// labelled images. Baseline: the example's fine-tuning, 200 full-batch Adam steps (learning rate 1e-3) on the same
/// images. Against it: the Ntk softmax fit (Laplace, s² by the evidence) and, separately, 300 predictions of the fitted
/// posterior (probit probabilities with latent variances).
/// </summary>
[Config(typeof(AdaptationConfig))]
public class ImageAdaptationBenchmarks
{
    private const int Classes = 5, Side = 16, Labelled = 250, Tested = 300, FineTuneSteps = 200;
    private nn.Module<Tensor, Tensor> pretrained = null!;
    private Tensor x = null!, y = null!, testX = null!;
    private ClassificationPosterior posterior = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        pretrained = Architectures.SmallCnn(3, Classes);
        var (sourceX, sourceY) = Images(1500, shifted: false, seed: 1);
        Train(pretrained, sourceX, sourceY, steps: 300, learningRate: 3e-3);
        (x, y) = Images(Labelled, shifted: true, seed: 2);
        (testX, _) = Images(Tested, shifted: true, seed: 3);
        testX = testX.to(ScalarType.Float64);
        posterior = FitNtk();
    }

    [Benchmark(Baseline = true, Description = "fine-tuning, all weights (200 Adam steps)")]
    public void FineTune()
    {
        using var scope = NewDisposeScope();
        Train(Copy(), x, y, FineTuneSteps, learningRate: 1e-3);
    }

    [Benchmark(Description = "Ntk softmax fit (Laplace, s² by the evidence)")]
    public void Ntk()
    {
        using var scope = NewDisposeScope();
        Console.WriteLine($"// ntk: {FitNtk().Report}");
    }

    [Benchmark(Description = "300 Ntk predictions (probit, with variances)")]
    public void Predict()
    {
        using var scope = NewDisposeScope();
        posterior.Predict(testX);
    }

    private ClassificationPosterior FitNtk() =>
        GaussianProcessClassification.Fit(new LinearizedNetwork(Copy().to(ScalarType.Float64), ParameterSelection.All), x.to(ScalarType.Float64), y,
                                          new ClassificationSettings());

    /// <summary>Images whose class decides where a blob sits; the shifted domain changes its colour and adds noise.</summary>
    private static (Tensor X, Tensor Y) Images(int count, bool shifted, int seed)
    {
        var generator = new Generator((ulong)seed);
        Tensor labels = randint(0, Classes, new long[] { count }, generator: generator);
        Tensor grid = arange(Side, dtype: ScalarType.Float32);
        Tensor rows = grid.reshape(1, Side, 1), columns = grid.reshape(1, 1, Side);
        Tensor angle = labels.to(ScalarType.Float32) * (2 * Math.PI / Classes);
        Tensor centerRow = (7.5 + 4 * angle.cos()).reshape(-1, 1, 1), centerColumn = (7.5 + 4 * angle.sin()).reshape(-1, 1, 1);
        Tensor blob = (-((rows - centerRow).square() + (columns - centerColumn).square()) / 6).exp();      // [N, H, W]
        Tensor colour = shifted ? tensor(new[] { 0.9f, 0.3f, 0.6f }) : ones(3);
        Tensor images = blob.unsqueeze(1) * colour.reshape(1, 3, 1, 1);
        float noise = shifted ? 0.25f : 0.05f;
        return (images + noise * randn(images.shape, generator: generator), labels);
    }

    private nn.Module<Tensor, Tensor> Copy()
    {
        var copy = Architectures.SmallCnn(3, Classes);
        copy.load_state_dict(pretrained.state_dict());
        copy.eval();
        return copy;
    }

    private static void Train(nn.Module<Tensor, Tensor> module, Tensor inputs, Tensor labels, int steps, double learningRate)
    {
        module.eval();                           // batch norm on its running statistics, as the example's fine-tuning
        var optimizer = optim.Adam(module.parameters(), lr: learningRate);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(module.call(inputs), labels).backward();
            optimizer.step();
        }
    }
}
