using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// Gradient training with Adam, for pretraining on a source task and for the fine-tuning baselines: full batch (or
/// minibatches), on all parameters or only those whose names start with a prefix (the last layer), for a given step count.
/// </summary>
public static class Training
{
    /// <summary>Trains with mean squared error (regression) on inputs [N, ...] and targets [N, 1].</summary>
    public static void Regression(nn.Module<Tensor, Tensor> module, Tensor inputs, Tensor targets, int steps, double learningRate,
                                  string? onlyPrefix = null, int batchSize = 0, int seed = 0) =>
        Run(module, inputs, targets, (output, y) => { Tensor r = output - y; return (r * r).mean(); }, steps, learningRate, onlyPrefix, batchSize, seed);

    /// <summary>
    /// Trains with softmax cross-entropy on inputs [N, ...] and class indices [N] (Int64). <paramref name="trainingMode"/> false
    /// keeps batch norm on its running statistics (fine-tuning on a handful of images). <paramref name="afterStep"/>, when given, is
    /// called with the step count after each step (for held-out checkpoints) and stops the run by returning false.
    /// </summary>
    public static void Classification(nn.Module<Tensor, Tensor> module, Tensor inputs, Tensor classes, int steps, double learningRate,
                                      string? onlyPrefix = null, int batchSize = 0, int seed = 0, bool trainingMode = true,
                                      Func<int, bool>? afterStep = null) =>
        Run(module, inputs, classes, (output, y) => nn.functional.cross_entropy(output, y), steps, learningRate, onlyPrefix, batchSize, seed, trainingMode,
            afterStep);

    private static void Run(nn.Module<Tensor, Tensor> module, Tensor inputs, Tensor targets, Func<Tensor, Tensor, Tensor> loss, int steps,
                            double learningRate, string? onlyPrefix, int batchSize, int seed, bool trainingMode = true, Func<int, bool>? afterStep = null)
    {
        // onlyPrefix: one name prefix, or several separated by commas ("4.,5.,10."); null trains every parameter.
        string[]? prefixes = onlyPrefix?.Split(',');
        bool Trained(string name) => prefixes is null || prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));
        var parameters = module.named_parameters().Where(p => Trained(p.name)).Select(p => p.parameter).ToList();
        foreach (var (name, parameter) in module.named_parameters()) parameter.requires_grad = Trained(name);
        using var adam = new AdamMoments(parameters);
        var generator = new Generator((ulong)seed + 1);
        long n = inputs.shape[0];
        module.train(trainingMode);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            Tensor x = inputs, y = targets;
            if (batchSize > 0 && batchSize < n)
            {
                Tensor pick = randint(0, n, new long[] { batchSize }, generator: generator);
                (x, y) = (inputs.index_select(0, pick), targets.index_select(0, pick));
            }
            foreach (var p in parameters) p.grad?.zero_();
            loss(module.call(x), y).backward();
            Step(adam, parameters, learningRate);
            if (afterStep is not null)
            {
                if (!afterStep(step + 1)) break;
                module.train(trainingMode);
            }
        }
        module.eval();
        foreach (var parameter in module.parameters()) parameter.requires_grad = true;
    }

    /// <summary>One Adam step on the parameters that have gradients: θ −= lr / (1 − β₁ᵗ) · m_t / (√v̂_t + ε), as torch.optim.Adam.</summary>
    private static void Step(AdamMoments adam, IReadOnlyList<Tensor> parameters, double learningRate)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            if (parameters[i].grad is not { } gradient) continue;
            var (first, denominator) = adam.Advance(i, gradient);
            using var size = (-learningRate / adam.FirstCorrection(i)).ToScalar();
            parameters[i].addcdiv_(first, denominator, size);
        }
    }

    /// <summary>The outputs for inputs in batches, without gradients.</summary>
    public static Tensor Predict(nn.Module<Tensor, Tensor> module, Tensor inputs, int batchSize = 256)
    {
        module.eval();
        using var noGrad = no_grad();
        var parts = new List<Tensor>();
        for (long start = 0; start < inputs.shape[0]; start += batchSize)
            parts.Add(module.call(inputs.narrow(0, start, Math.Min(batchSize, inputs.shape[0] - start))));
        return cat(parts, 0);
    }

    /// <summary>
    /// Pretrains once from a seed (initial weights included), on one thread so that the weights do not depend on how threads split the sums (thousands of Adam
    /// steps amplify such rounding differences), and caches them in TorchSharp's format; later runs load the file.
    /// </summary>
    public static string Pretrained(string cacheFile, int seed, Func<nn.Module<Tensor, Tensor>> build, Action<nn.Module<Tensor, Tensor>> train,
                                    IProgress<string> log)
    {
        if (File.Exists(cacheFile))
        {
            log.Report($"Using the cached pretrained network {cacheFile}.");
            return cacheFile;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(cacheFile)!);
        log.Report("Pretraining on the source task (cached for later runs) ...");
        manual_seed(seed);          // before building: the initial weights come from the seed too
        var module = build();
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);   // one thread: the same sums in the same order, so the same weights on every machine
        try
        {
            train(module);
        }
        finally
        {
            torch.set_num_threads(threads);
        }
        string temporary = cacheFile + ".tmp";
        module.save(temporary);
        File.Move(temporary, cacheFile, overwrite: true);
        return cacheFile;
    }
}
