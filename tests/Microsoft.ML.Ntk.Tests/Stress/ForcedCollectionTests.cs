using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Stress;

/// <summary>
/// TorchSharp frees the Scalars it makes implicitly in finalizers, which can run while libtorch still reads them. A thread
/// forcing garbage collections every 2 ms makes that race likely; every fit and prediction must still succeed, with the
/// results of an unstressed run. Before the library avoided those Scalars (ScalarSafe), 6 of 100 of these runs failed.
/// The suite runs 10 rounds (40 fits with their predictions, and 400 single-row predictions, a few seconds); the longer soak
/// is the same test with NTK_STRESS_REPEATS=500 (2,000 fits and 20,000 single-row predictions, about a minute).
/// </summary>
public class ForcedCollectionTests
{
    private static int Repeats => int.TryParse(Environment.GetEnvironmentVariable("NTK_STRESS_REPEATS"), out int r) ? r : 10;

    [Fact]
    public void FitsAndPredictionsSucceedUnderForcedCollections()
    {
        var cases = new List<(string Name, Func<Tensor> Run)>();
        foreach (var strategy in new[] { InferenceStrategy.Dense, InferenceStrategy.FunctionSpace, InferenceStrategy.WeightSpace })
            cases.Add(($"regression {strategy}", () => Regression(strategy)));
        cases.Add(("softmax", () => Softmax(independentOutputs: false)));
        cases.Add(("softmax, independent outputs", () => Softmax(independentOutputs: true)));
        cases.Add(("binary, one output", Binary));
        cases.Add(("layer-summed cross kernels (factored convolutions), kept and formed", LayerCrossKernels));
        cases.Add(("low-rank projection beyond the budget", LowRankVariances));
        var posterior = GaussianProcessRegression.Fit(new LinearizedNetwork(Cnn.Network, ParameterSelection.All), Cnn.Inputs, Targets, new RegressionSettings());
        cases.Add(("40 single-row predictions", () => cat(Enumerable.Range(0, 40).Select(i =>
        {
            var prediction = posterior.Predict(Cnn.Inputs.narrow(0, i % Cnn.Inputs.shape[0], 1));
            return cat(new[] { prediction.Mean, prediction.PredictiveVariance }, 1);
        }).ToArray())));
        var expected = cases.Select(c => c.Run().data<double>().ToArray()).ToArray();

        var failures = new List<string>();
        long afterFirstRound = 0;
        using (new ForcedCollector())
        {
            for (int r = 0; r < Repeats; r++, afterFirstRound = afterFirstRound == 0 ? ForcedCollector.ResidentBytes() : afterFirstRound)
                for (int i = 0; i < cases.Count; i++)
                {
                    try
                    {
                        double[] actual = cases[i].Run().data<double>().ToArray();
                        if (!actual.SequenceEqual(expected[i])) failures.Add($"{cases[i].Name}: different results");
                    }
                    catch (Exception ex)
                    {
                        failures.Add($"{cases[i].Name}: {ex.GetType().Name}: {ex.Message.Split('\n')[0]} at {Where(ex)}");
                    }
                }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Repeats * cases.Count} runs failed: " + string.Join("; ", failures.Take(5)));
        // Flat memory: what the first round left resident may grow by glibc's fragmentation, not by every round's tensors.
        long growth = ForcedCollector.ResidentBytes() - afterFirstRound;
        Console.WriteLine($"forced collections: {Repeats * cases.Count} runs, resident memory {afterFirstRound >> 20} MiB after the first round, grew by {growth >> 20} MiB");
        Assert.True(growth < MaxResidentGrowth, $"resident memory grew by {growth >> 20} MiB over {Repeats - 1} rounds");
    }

    /// <summary>The most resident memory may grow after the first round: 200 MiB (a round's tensors are a few MiB; a leak of every
    /// round's tensors would pass it within a few dozen rounds of the soak).</summary>
    private const long MaxResidentGrowth = 200L << 20;

    /// <summary>The innermost frames of ours (and TorchSharp's just below them) where the exception was thrown.</summary>
    private static string Where(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null) inner = inner.InnerException;
        var frames = (inner.StackTrace ?? "").Split('\n').Select(f => f.Trim()).Where(f => f.StartsWith("at ")).ToList();
        int ours = frames.FindIndex(f => f.Contains("Microsoft.ML.Ntk."));
        return ours < 0 ? "?" : string.Join(" < ", frames.Skip(Math.Max(ours - 1, 0)).Take(3).Select(f => f.Split(" in ")[0][3..]));
    }

    // Built before the collections start: the tests' own helpers are not what is measured.
    private static readonly TestCase Cnn = TestNetworks.Create("cnn-batchnorm"), Resnet = TestNetworks.Create("resnet");

    /// <summary>K(X*, X) and k(x*, x*) summed layer by layer on the ResNet (its convolutions factored), from kept training parts and formed per call.</summary>
    private static Tensor LayerCrossKernels()
    {
        var linearized = new LinearizedNetwork(Resnet.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 1);
        using var x = linearized.Prepare(Resnet.Inputs);
        using var star = linearized.Prepare(Resnet.Inputs.flip(0));
        using var kept = linearized.KeepKernelParts(x, blocksOnly: true, budgetBytes: 1L << 30)!;
        var (fromKept, diagonal) = linearized.CrossKernelAndDiagonal(star, x, blocksOnly: true, kept);
        var (formed, _) = linearized.CrossKernelAndDiagonal(star, x);
        return cat(new[] { fromKept.flatten(), diagonal.flatten(), formed.flatten() });
    }

    /// <summary>Variances through a low-rank projection built under the stress (training images of four kinds: W has low rank).</summary>
    private static Tensor LowRankVariances()
    {
        var network = new LinearizedNetwork(Cnn.Network, ParameterSelection.All);
        Tensor images = Cnn.Inputs.index_select(0, arange(24) % Math.Min(4, Cnn.Inputs.shape[0]));
        using var training = network.Prepare(images);
        Tensor kernel = network.Kernel(training, training);
        var cholesky = Microsoft.ML.Ntk.LinearAlgebra.DenseCholesky.Factor(kernel.Plus(eye(kernel.shape[0], dtype: ScalarType.Float64).Times(0.01)));
        long budget = 40 * network.Parameters.Count * sizeof(double);
        var variance = new KernelSpaceVariance(network, training, KernelInverseRoot.FromCholesky(cholesky.Lower), 1.0, budget: budget);
        using var test = new TestInputs(network, Cnn.Inputs.flip(0));
        Tensor latent = variance.Latent(test);
        if (variance.LowRank is null) throw new InvalidOperationException("the low-rank projection was not used");
        return latent;
    }

    private static Tensor Regression(InferenceStrategy strategy)
    {
        var test = Cnn;
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        Tensor y = Targets;
        var posterior = GaussianProcessRegression.Fit(network, test.Inputs, y, new RegressionSettings(Strategy: strategy, Probes: 4, LanczosSteps: 9));
        var prediction = posterior.Predict(test.Inputs);
        return cat(new[] { prediction.Mean, prediction.LatentVariance }, 1);
    }

    private static readonly Tensor Targets = MakeTargets();

    private static Tensor MakeTargets()
    {
        manual_seed(5);
        return randn(Cnn.Inputs.shape[0], 3, dtype: ScalarType.Float64);
    }

    private static Tensor Softmax(bool independentOutputs)
    {
        var test = Resnet;
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        var posterior = GaussianProcessClassification.Fit(network, test.Inputs, tensor(new long[] { 0, 2 }),
                                                          new ClassificationSettings(IndependentOutputs: independentOutputs));
        var prediction = posterior.Predict(test.Inputs);
        return cat(new[] { prediction.Probabilities, prediction.LatentVariance }, 1);
    }

    private static readonly nn.Module OneOutput = MakeOneOutput();

    private static nn.Module MakeOneOutput()
    {
        manual_seed(6);
        nn.Module module = Architectures.Mlp(3, new long[] { 6 }, 1, () => nn.Tanh());
        module = module.to(ScalarType.Float64);
        module.eval();
        return module;
    }

    private static Tensor Binary()
    {
        var network = new LinearizedNetwork(OneOutput, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        Tensor x = Cnn.Inputs.reshape(Cnn.Inputs.shape[0], -1).narrow(1, 0, 3);
        var posterior = GaussianProcessClassification.Fit(network, x, tensor(new long[] { 1, 0, 1 }), new ClassificationSettings());
        var prediction = posterior.PredictBinary(x);
        return cat(new[] { prediction.LogOdds, prediction.Variance, prediction.Probability });
    }
}
