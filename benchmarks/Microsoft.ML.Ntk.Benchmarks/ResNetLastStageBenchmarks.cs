using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// A CIFAR ResNet-18 (3×32×32, 10 classes, seeded random weights) adapting its last stage and head (P = 8,398,858) from 500
/// images: the softmax Laplace fit with independent outputs (s² by the evidence, covariance scale on held-out folds), against
/// fine-tuning the same parameters with full-batch Adam until the training cross-entropy reaches that of the Ntk posterior mean
/// (at most 400 steps), at three learning rates. The labels are learnable by the adapted part: the arg max of a random linear
/// map of the network's own standardized last-stage features. Fine-tuning runs from the trunk's outputs, computed once, as the
/// Ntk fit does; and 300 predictions of the Ntk posterior. One run each (LongFitConfig); the target loss and the predicting
/// posterior come from one more fit, once per process.
/// </summary>
[Config(typeof(LongFitConfig))]
public class ResNetLastStageBenchmarks
{
    private const int Count = 500, Classes = 10, MaxSteps = 400;
    private static readonly string[] Adapted = { "6.", "9." };                  // the last stage and the linear head of the flat Sequential
    private static readonly Lazy<double> Target = new(Create);

    private static nn.Module<Tensor, Tensor> network = null!;
    private static Tensor inputs = null!, labels = null!, trunkOutputs = null!;
    private static double targetLoss = double.NaN;
    private static ClassificationPosterior posterior = null!;
    private static Tensor testInputs = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        targetLoss = Target.Value;
    }

    [Benchmark(Baseline = true, Description = "Ntk fit (softmax Laplace, independent outputs)")]
    public void Ntk()
    {
        using var scope = NewDisposeScope();
        var posterior = Fit();
        Console.WriteLine($"// ntk: target training loss {targetLoss:F4}; {posterior.Report}");
    }

    /// <summary>300 predictions (probabilities with the variance) of the posterior fitted once in the setup.</summary>
    [Benchmark(Description = "300 predictions of the Ntk posterior")]
    public void Predict()
    {
        using var scope = NewDisposeScope();
        var prediction = posterior.Predict(testInputs);
        Console.WriteLine($"// predictions: mean latent variance {prediction.LatentVariance.mean().item<double>():E3}, bytes kept {posterior.Variance.Bytes >> 20} MiB");
    }

    [Benchmark(Description = "fine-tuning (Adam, full batch) to the same training loss")]
    [Arguments(1e-4)]
    [Arguments(3e-4)]
    [Arguments(1e-3)]
    public void FineTune(double learningRate)
    {
        using var scope = NewDisposeScope();
        var copy = Copy();
        var adapted = nn.Sequential(copy.children().Skip(6).Select(m => (nn.Module<Tensor, Tensor>)m).ToArray());
        var optimizer = optim.Adam(adapted.parameters(), lr: learningRate);
        double loss = double.NaN;
        int step = 0;
        for (; step < MaxSteps; step++)
        {
            using var pass = NewDisposeScope();
            optimizer.zero_grad();
            Tensor objective = nn.functional.cross_entropy(adapted.call(trunkOutputs), labels);
            loss = objective.item<float>();
            if (loss <= targetLoss) break;
            objective.backward();
            optimizer.step();
        }
        Console.WriteLine($"// fine-tuning lr {learningRate:E0}: {step} steps, training loss {loss:F4} (target {targetLoss:F4})");
    }

    /// <summary>The network, images, labels and trunk outputs; returns the Ntk posterior mean's training cross-entropy.</summary>
    private static double Create()
    {
        manual_seed(0);
        network = Architectures.CifarResNet(new[] { 2, 2, 2, 2 }, classes: Classes);
        network.eval();
        inputs = randn(Count, 3, 32, 32);
        using (no_grad())
        {
            Tensor h = inputs;
            var stages = network.children().Select(m => (nn.Module<Tensor, Tensor>)m).ToList();
            for (int i = 0; i < 6; i++) h = stages[i].call(h);
            trunkOutputs = h;
            Tensor features = stages[6].call(h).mean(new long[] { 2, 3 });
            features = (features - features.mean(new long[] { 0 }, keepdim: true)) / features.std(0, keepdim: true);
            labels = features.matmul(randn(features.shape[1], Classes)).argmax(1);
        }
        posterior = Fit();
        testInputs = randn(300, 3, 32, 32);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        posterior.Predict(testInputs.narrow(0, 0, 1));                               // keeps the training parts (first prediction)
        Console.WriteLine($"// first prediction (keeps the training inputs' layer parts): {watch.Elapsed.TotalSeconds:F1} s");
        using var training = new TestInputs(posterior.Network, inputs);
        Tensor mean = RegressionPosterior.PosteriorMean(training, posterior.Mean, Array.Empty<double>(), posterior.ParameterShift);
        return nn.functional.cross_entropy(mean, labels).item<double>();
    }

    private static ClassificationPosterior Fit() =>
        GaussianProcessClassification.Fit(new LinearizedNetwork(Copy(), ParameterSelection.NamePrefixes(Adapted)), inputs, labels,
                                          new ClassificationSettings(IndependentOutputs: true));

    private static nn.Module<Tensor, Tensor> Copy()
    {
        var copy = Architectures.CifarResNet(new[] { 2, 2, 2, 2 }, classes: Classes);
        copy.load_state_dict(network.state_dict());
        copy.eval();
        return copy;
    }
}
