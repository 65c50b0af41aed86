using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.FashionMnist;

/// <summary>What a method gives on the target test set, and how long its fit and its predictions took.</summary>
public sealed record Outcome(float[][] Probabilities, double FitSeconds, double PredictSeconds);

/// <summary>
/// One shift: the network pretrained on its source task (cached), the labelled pool and the test set of its target task,
/// and the methods compared on them.
/// </summary>
public sealed class ShiftRun
{
    private const int Side = 28;
    private readonly Shift shift;
    private readonly NetworkArchitecture architecture;
    private readonly string weights;
    private readonly float mean, deviation;
    private readonly Tensor poolX, testX;
    private readonly int[] poolY;
    private readonly string[] names;
    private readonly ClassificationFineTuning fineTuning;
    private Outcome? unadapted;

    private sealed class ImageRow
    {
        [VectorType(Side * Side)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public string Label { get; set; } = "";
    }

    private sealed class NameRow
    {
        public string Label { get; set; } = "";
    }

    public ShiftRun(Shift shift, FashionMnistData data, int testImages, IProgress<string> log)
    {
        this.shift = shift;
        names = shift.TargetClasses.Select(c => FashionMnistData.ClassNames[c]).ToArray();
        // Source: training images 0 … 49,999 of the source classes (at most 20,000); the pool: 50,000 … 59,999 of the target classes.
        long[] source = Enumerable.Range(0, 50_000).Where(i => shift.SourceClasses.Contains(data.TrainLabels[i])).Take(20_000).Select(i => (long)i).ToArray();
        Tensor sourceX = data.TrainImages.index_select(0, tensor(source));
        Tensor sourceY = tensor(source.Select(i => (long)Array.IndexOf(shift.SourceClasses, data.TrainLabels[i])).ToArray());
        SourceCount = source.Length;
        mean = sourceX.mean().item<float>();
        deviation = sourceX.std().item<float>();
        architecture = NetworkArchitecture.SmallCnn(1, Side, Side, shift.SourceClasses.Length);
        weights = Training.Pretrained(Results.CacheFile($"fashion-{shift.Name.Replace(' ', '-')}-cnn.bin"), seed: 0, architecture.CreateModule,
            module => Training.Classification(module, Normalize(sourceX), sourceY, steps: 1500, learningRate: 3e-3, batchSize: 128), log);
        long[] sourceTest = Enumerable.Range(0, data.TestLabels.Length).Where(i => shift.SourceClasses.Contains(data.TestLabels[i])).Select(i => (long)i).ToArray();
        SourceAccuracy = Metrics.Accuracy(Probabilities(Load(), data.TestImages.index_select(0, tensor(sourceTest))),
                                          sourceTest.Select(i => Array.IndexOf(shift.SourceClasses, data.TestLabels[i])).ToArray());

        long[] pool = Enumerable.Range(50_000, 10_000).Where(i => shift.TargetClasses.Contains(data.TrainLabels[i])).Select(i => (long)i).ToArray();
        poolX = shift.TargetImages(data.TrainImages.index_select(0, tensor(pool)));
        poolY = pool.Select(i => Array.IndexOf(shift.TargetClasses, data.TrainLabels[i])).ToArray();
        PoolCount = pool.Length;
        long[] test = Enumerable.Range(0, data.TestLabels.Length).Where(i => shift.TargetClasses.Contains(data.TestLabels[i])).Take(testImages).Select(i => (long)i).ToArray();
        testX = shift.TargetImages(data.TestImages.index_select(0, tensor(test)));
        TestLabels = test.Select(i => Array.IndexOf(shift.TargetClasses, data.TestLabels[i])).ToArray();
        fineTuning = new ClassificationFineTuning(Load, Normalize, AdamGrid.Classification);
        log.Report($"{shift.Name}: pretrained network, source test accuracy {SourceAccuracy:P1}, target test accuracy " +
                   $"{Metrics.Accuracy(Probabilities(Load(), testX), TestLabels):P1} before adaptation.");
    }

    public int SourceCount { get; }
    public int PoolCount { get; }
    public double SourceAccuracy { get; }
    public int[] TestLabels { get; }

    /// <summary>The hyperparameters and warnings of the last Ntk fit, for the log.</summary>
    public string LastNtkSummary { get; private set; } = "";

    /// <summary>s² and the covariance scale τ of the last Ntk fit.</summary>
    public (double PriorVariance, double CovarianceScale) LastNtkChoice { get; private set; }

    /// <summary>k labelled images per target class drawn from the pool (seeded): images [k·C, 1, 28, 28] and class indices.</summary>
    public (Tensor X, Tensor Y) Labelled(int k, int seed)
    {
        var random = new Random(seed);
        long[] picked = Enumerable.Range(0, names.Length)
            .SelectMany(c => Enumerable.Range(0, poolY.Length).Where(i => poolY[i] == c).OrderBy(_ => random.Next()).Take(k))
            .Select(i => (long)i).ToArray();
        return (poolX.index_select(0, tensor(picked)), tensor(picked.Select(i => (long)poolY[i]).ToArray()));
    }

    /// <summary>The Ntk multiclass trainer in an ML.NET pipeline: rows of pixels and class names in, Score out.</summary>
    public Outcome Ntk(MLContext ml, Tensor x, Tensor y, Action<NtkMulticlassTrainer.Options>? configure = null)
    {
        var clock = Stopwatch.StartNew();
        var keyData = ml.Data.LoadFromEnumerable(names.Select(n => new NameRow { Label = n }));
        var options = new NtkMulticlassTrainer.Options
        {
            Network = PretrainedNetwork.FromArchitecture(architecture, weights),
            ChannelMeans = new[] { mean }, ChannelStandardDeviations = new[] { deviation },
            IndependentOutputs = true, OutputClassNames = names,
        };
        configure?.Invoke(options);
        var model = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData)
            .Append(ml.MulticlassClassification.Trainers.Ntk(options))
            .Fit(ml.Data.LoadFromEnumerable(Rows(x, y)));
        double fit = clock.Elapsed.TotalSeconds;
        var summary = NtkModel.Describe(model).FitSummary!;
        LastNtkChoice = (summary.PriorVariance, summary.CovarianceScale);
        LastNtkSummary = $"s² = {summary.PriorVariance:G3}, log evidence {summary.LogMarginalLikelihood:F1}, covariance scale {summary.CovarianceScale:G3}" +
                         (summary.Warnings.Count > 0 ? "; " + string.Join(" ", summary.Warnings) : "");
        clock.Restart();
        var scores = model.Transform(ml.Data.LoadFromEnumerable(Rows(testX, tensor(TestLabels.Select(l => (long)l).ToArray()))))
            .GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        return new Outcome(scores, fit, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Adam on all weights (or on those under <paramref name="onlyPrefix"/>), the learning rate and the step count chosen on the
    /// labelled images by <see cref="ClassificationFineTuning"/> (at 1 label per class: on the 5-per-class set of the same draw).
    /// </summary>
    public Outcome FineTune(Tensor x, Tensor y, string? onlyPrefix, int k, int draw)
    {
        var clock = Stopwatch.StartNew();
        var (module, choice) = fineTuning.Fit(x, y, onlyPrefix, k, draw, () => Labelled(5, LabelSeed(5, draw)));
        Choices.Add((onlyPrefix, k, choice));
        double fit = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return new Outcome(Probabilities(module, testX), fit, clock.Elapsed.TotalSeconds);
    }

    /// <summary>How many 1-label fits had to draw the 5-per-class set of their draw to make the choice (5 was not run).</summary>
    public int FivePerClassDrawnForOneLabel => fineTuning.DrawnForOneLabel;

    /// <summary>The seed of draw <paramref name="draw"/> of k labelled images per class.</summary>
    public static int LabelSeed(int k, int draw) => 1000 * k + draw;

    /// <summary>
    /// The RBF-kernel GP on the pretrained network's penultimate features (<see cref="RbfGaussianProcess"/>): its fit takes the
    /// features of the labelled images and chooses the hyperparameters, its predictions take those of the test images.
    /// </summary>
    public Outcome RbfGp(Tensor x, Tensor y)
    {
        var clock = Stopwatch.StartNew();
        var features = SequentialSplit.Penultimate(Load());
        var gp = RbfGaussianProcess.Fit(Training.Predict(features, Normalize(x)), y.data<long>().ToArray(), names.Length);
        double fit = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var p = gp.Predict(Training.Predict(features, Normalize(testX)));
        return new Outcome(p, fit, clock.Elapsed.TotalSeconds);
    }

    public Outcome Unadapted()
    {
        if (unadapted is not null) return unadapted;
        var clock = Stopwatch.StartNew();
        var p = Probabilities(Load(), testX);
        return unadapted = new Outcome(p, 0, clock.Elapsed.TotalSeconds);
    }

    /// <summary>What each fine-tuning chose (which parameters, labels per class, learning rate and steps), for the notes of the tables.</summary>
    public List<(string? OnlyPrefix, int K, AdamChoice Choice)> Choices { get; } = new();

    private nn.Module<Tensor, Tensor> Load()
    {
        var module = architecture.CreateModule();
        module.load(weights);
        module.eval();
        return module;
    }

    private Tensor Normalize(Tensor x) => x.sub(mean).div(deviation);

    private float[][] Probabilities(nn.Module<Tensor, Tensor> module, Tensor x) => ClassificationFineTuning.Probabilities(module, Normalize(x));

    private IEnumerable<ImageRow> Rows(Tensor x, Tensor y)
    {
        float[] pixels = x.contiguous().data<float>().ToArray();
        long[] labels = y.data<long>().ToArray();
        return Enumerable.Range(0, labels.Length).Select(i => new ImageRow
        {
            Features = pixels.AsSpan(i * Side * Side, Side * Side).ToArray(), Label = names[labels[i]],
        }).ToArray();
    }
}
