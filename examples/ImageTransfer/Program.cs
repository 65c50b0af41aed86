using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Examples;
using Microsoft.ML.Ntk.Examples.ImageTransfer;
using static TorchSharp.torch;

// Image domain shift. A small CNN is pretrained on plain generated shapes (white on black); the target domain shows the
// same five shapes coloured, textured, rotated and noisy. With 1, 5, 10 and 50 labelled target images per class, compare
// Ntk (softmax and Gaussian likelihoods; all parameters, or only the last convolutional block and the head) with a Bayesian
// last layer, an RBF-kernel GP on the penultimate features, fine-tuning all weights or the last block and retraining the last
// layer (learning rate and step count chosen on a held-out fifth of the labelled images, AdamGrid.Classification), and the
// unadapted network. Images are PNG files read by ML.NET's ImageAnalytics inside the pipeline.
// Usage: dotnet run -c Release --project examples/ImageTransfer [labels-per-class,...] [draws]
int[] labelCounts = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : new[] { 1, 5, 10, 50 };
int seeds = args.Length > 1 ? int.Parse(args[1]) : 5;
const int Side = 16, Classes = 5;
var log = new ConsoleProgress();
TorchSharpLoader.EnsureLoaded();
string data = Results.CacheFile("shapes");
var source = ShapeImages.Write(Path.Combine(data, "source"), "source", perClass: 300, seed: 1);
var pool = ShapeImages.Write(Path.Combine(data, "target-pool"), "target", perClass: 50, seed: 2);
var test = ShapeImages.Write(Path.Combine(data, "target-test"), "target", perClass: 60, seed: 3);
log.Report($"Images: {source.Length} source, {pool.Length} target (labelled pool), {test.Length} target test, {Side}×{Side} after resizing.");

var ml = new MLContext(seed: 1);
var classOrder = ml.Data.LoadFromEnumerable(ShapeImages.Classes.Select(c => new ImageFile { Shape = c }));
IEstimator<ITransformer> Pixels() => ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFile.Shape), keyData: ml.Transforms.SelectColumns(nameof(ImageFile.Shape)).Fit(classOrder).Transform(classOrder))
    .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.Path)))
    .Append(ml.Transforms.ResizeImages("Image", Side, Side))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", interleavePixelColors: false, scaleImage: 1 / 255f));

// Per-channel statistics of the source images: the trainer's ChannelMeans / ChannelStandardDeviations, and the same
// normalization for the gradient-trained baselines.
var (sourceX, sourceY) = Tensors(source, null);
float[] means = Enumerable.Range(0, 3).Select(c => sourceX[.., c].mean().item<float>()).ToArray();
float[] deviations = Enumerable.Range(0, 3).Select(c => sourceX[.., c].std().item<float>()).ToArray();
var architecture = NetworkArchitecture.SmallCnn(3, Side, Side, Classes);
string weights = Training.Pretrained(Results.CacheFile("shapes-source-cnn.bin"), seed: 0, architecture.CreateModule, module =>
{
    Training.Classification(module, Normalize(sourceX), sourceY, steps: 600, learningRate: 3e-3, batchSize: 128);
}, log);
var network = PretrainedNetwork.FromArchitecture(architecture, weights);
var (testX, testY) = Tensors(test, null);
int[] testLabels = testY.data<long>().Select(v => (int)v).ToArray();
log.Report($"Pretrained network: source accuracy {Accuracy(Load(), sourceX, sourceY):P1}, target accuracy {Accuracy(Load(), testX, testY):P1} before adaptation.");

var fineTuning = new ClassificationFineTuning(Load, Normalize, AdamGrid.Classification);
var choices = new List<(string Method, int K, AdamChoice Choice)>();
const string Tuned = " (Adam, learning rate and steps chosen on held-out labels)";
var methods = new (string Name, Func<ImageFile[], int, int, Outcome> Fit)[]
{
    ("Ntk softmax, all parameters", (train, k, d) => Ntk(train, o => { })),
    ("Ntk softmax, last block + head", (train, k, d) => Ntk(train, o => o.AdaptedParameters = ParameterSelection.LastLayers(3))),
    ("Ntk Gaussian, all parameters", (train, k, d) => Ntk(train, o => o.Likelihood = ClassificationLikelihood.Gaussian)),
    ("Ntk Gaussian, last block + head", (train, k, d) => Ntk(train, o => { o.Likelihood = ClassificationLikelihood.Gaussian; o.AdaptedParameters = ParameterSelection.LastLayers(3); })),
    ("Bayesian last layer (Ntk, last layer only)", (train, k, d) => Ntk(train, o => o.AdaptedParameters = ParameterSelection.LastLayers(1))),
    ("RBF-kernel GP on the penultimate features", (train, k, d) => RbfGp(train)),
    ("fine-tuning, all weights" + Tuned, (train, k, d) => FineTune(train, "fine-tuning, all weights", onlyPrefix: null, k, d)),
    ("fine-tuning the last block" + Tuned, (train, k, d) => FineTune(train, "fine-tuning the last block", onlyPrefix: "4.,5.,10.", k, d)),
    ("retraining the last layer" + Tuned, (train, k, d) => FineTune(train, "retraining the last layer", onlyPrefix: "10.", k, d)),
    ("unadapted network", (train, k, d) => Unadapted()),
};

var table = new MarkdownTable("labels per class", "method", "accuracy", "median accuracy", "NLL", "median NLL", "ECE", "median ECE", "fit (s)", "predict (s)");
var rowsByCount = new SortedDictionary<int, List<string[]>>();
var reliability = new List<(string, Metrics.ReliabilityBin[])>();
// 5 labels per class first: at 1 label per class nothing can be held out, and fine-tuning takes the choice made at 5 in the same draw.
foreach (int k in labelCounts.OrderBy(k => k == 1 ? int.MaxValue : k))
{
    var runs = methods.Select(_ => new List<(double Accuracy, double Nll, double Ece, double Fit, double Predict)>()).ToArray();
    int draws = k >= pool.Length / Classes ? 1 : seeds;   // the whole pool: every draw would hold the same images
    for (int s = 0; s < draws; s++)
    {
        var train = Draw(k, s);
        for (int m = 0; m < methods.Length; m++)
        {
            var outcome = methods[m].Fit(train, k, s);
            var p = outcome.Probabilities;
            runs[m].Add((Metrics.Accuracy(p, testLabels), Metrics.ClassificationNll(p, testLabels), Metrics.ExpectedCalibrationError(p, testLabels),
                         outcome.FitSeconds, outcome.PredictSeconds));
            if (k == 10 && s == 0 && methods[m].Name.Split(" (")[0] is "Ntk softmax, all parameters" or "Ntk Gaussian, all parameters" or "fine-tuning, all weights")
                reliability.Add((methods[m].Name.Split(" (")[0], Metrics.Reliability(p, testLabels)));
        }
        log.Report($"  {k} labels per class, draw {s + 1}/{draws}: done");
    }
    rowsByCount[k] = methods.Select((method, m) => Row(k, method.Name, runs[m])).ToList();
}
foreach (var rows in rowsByCount.Values) foreach (var row in rows) table.Add(row);
Console.WriteLine(table);
string choiceNotes = string.Join("; ", choices.GroupBy(c => (c.Method, c.K)).OrderBy(g => g.Key.Method).ThenBy(g => g.Key.K)
    .Select(g => $"{g.Key.Method} at {g.Key.K}: {string.Join(", ", g.Select(c => c.Choice.ToString()))}"));
string drawnNote = fineTuning.DrawnForOneLabel > 0
    ? " 5 labels per class were not run: each choice at 1 label per class was made on the 5-per-class set of its draw, drawn for it (and timed in the 1-label fit)."
    : "";
Plots.Save(Results.PathOf("images-reliability.png"), new[] { Plots.Reliability("10 labels per class: reliability on the target test set", reliability) }, columns: 1, 620, 460);
Montage.Save(Results.PathOf("images-domains.png"), source.Take(10).Concat(test.Take(10)).Select(f => f.Path).ToArray(), columns: 10);
Results.WriteMarkdown("images.md", "Image transfer: plain shapes → coloured, textured, rotated, noisy shapes", "dotnet run -c Release --project examples/ImageTransfer",
    $"""
    ![Source (top) and target (bottom) images](images-domains.png)

    Small CNN (conv 16 – BN – ReLU – pool – conv 32 – BN – ReLU – pool – global average – linear, P = {Parameters()}) pretrained on
    {source.Length} plain source images; adapted with k labelled target images per class and tested on {test.Length} target images
    (mean ± standard error over {seeds} draws of the labelled images from a pool of {pool.Length / Classes} per class, and the median; at {pool.Length / Classes}
    labels per class the whole pool is used, once, so there is no standard error). Images are {ShapeImages.Size}×{ShapeImages.Size} PNG files resized to
    {Side}×{Side} by ImageAnalytics; every method normalizes each channel with the source statistics (the Ntk trainer's ChannelMeans /
    ChannelStandardDeviations). Ntk: the multiclass trainer with its defaults (softmax: Laplace, s² by the evidence, covariance scale
    chosen on held-out folds) or the Gaussian likelihood, adapting all parameters or the last block and the head (`LastLayers(3)`);
    the Bayesian last layer is the same trainer with `AdaptedParameters = LastLayers(1)` (the pretrained head as prior mean). The
    RBF-kernel GP is an exact GP regression on one-hot labels over the 32 penultimate features of the pretrained network, lengthscale,
    signal and noise variances maximizing the marginal likelihood over a grid, its probabilities the posterior mean clamped at 1e-3
    and normalized. Fine-tuning all weights, the last block (the second convolution, its batch norm and the head: "4.,5.,10.") and
    retraining the last layer ("10."): Adam from the pretrained weights on minibatches of 32 (or all images when fewer), batch norm in
    evaluation mode; the learning rate and the step count are chosen on the labelled images themselves, the same rule in all three
    examples ({AdamGrid.Classification.Describe()}): the candidate with the highest accuracy, then the lowest NLL, on a held-out fifth
    of each class (at least one image), trained on the other four fifths; then the network is retrained on all labelled images with
    it. At 1 label per class nothing can be held out: the choice made on the 5-per-class set of the same draw is used. Frozen layers
    in front of the trained ones are evaluated once (retraining the last layer runs on the cached penultimate features: the same
    computation without the convolutions). Fit times include reading the labelled PNG files through the pipeline and, for
    fine-tuning, the choice (at 1 label per class only the retraining: the choice was made, and timed, at 5); predict times include
    reading the test PNG files through the same pipeline. ECE: expected calibration error over 10 confidence bins.

    {table}
    Fine-tuning's choices (learning rate / steps, one per draw): {choiceNotes}.{drawnNote}

    ![Reliability diagram](images-reliability.png)

    """);
return 0;

Tensor Normalize(Tensor x) =>
    (x - tensor(means).reshape(1, 3, 1, 1)) / tensor(deviations).reshape(1, 3, 1, 1);

(Tensor X, Tensor Y) Tensors(ImageFile[] files, ITransformer? pixels)
{
    var view = ml.Data.LoadFromEnumerable(files);
    var transformed = (pixels ?? Pixels().Fit(view)).Transform(view);
    float[] values = transformed.GetColumn<VBuffer<float>>("Features").SelectMany(v => v.DenseValues()).ToArray();
    long[] labels = transformed.GetColumn<uint>("Label").Select(k => (long)k - 1).ToArray();
    return (tensor(values).reshape(files.Length, 3, Side, Side), tensor(labels));
}

nn.Module<Tensor, Tensor> Load()
{
    var module = architecture.CreateModule();
    module.load(weights);
    module.eval();
    return module;
}

float[][] Probabilities(nn.Module<Tensor, Tensor> module, Tensor x) => ClassificationFineTuning.Probabilities(module, Normalize(x));

double Accuracy(nn.Module<Tensor, Tensor> module, Tensor x, Tensor y) =>
    Metrics.Accuracy(Probabilities(module, x), y.data<long>().Select(v => (int)v).ToArray());

ImageFile[] Draw(int k, int draw)
{
    var random = new Random(100 * k + draw);
    return pool.GroupBy(f => f.Shape).SelectMany(g => g.OrderBy(_ => random.Next()).Take(k)).ToArray();
}

string[] Row(int k, string name, List<(double Accuracy, double Nll, double Ece, double Fit, double Predict)> runs)
{
    double[] accuracy = runs.Select(r => r.Accuracy).ToArray(), nll = runs.Select(r => r.Nll).ToArray(), ece = runs.Select(r => r.Ece).ToArray();
    return new[]
    {
        k.ToString(), name, MarkdownTable.WithError(Metrics.MeanAndError(accuracy)), MarkdownTable.Number(Metrics.Median(accuracy)),
        MarkdownTable.WithError(Metrics.MeanAndError(nll)), MarkdownTable.Number(Metrics.Median(nll)),
        MarkdownTable.WithError(Metrics.MeanAndError(ece)), MarkdownTable.Number(Metrics.Median(ece)),
        MarkdownTable.Number(runs.Average(r => r.Fit), "F2"), MarkdownTable.Number(runs.Average(r => r.Predict), "F2"),
    };
}

Outcome Ntk(ImageFile[] train, Action<NtkMulticlassTrainer.Options> configure)
{
    var clock = Stopwatch.StartNew();
    var options = new NtkMulticlassTrainer.Options { Network = network, ChannelMeans = means, ChannelStandardDeviations = deviations };
    configure(options);
    var model = Pixels().Append(ml.MulticlassClassification.Trainers.Ntk(options)).Fit(ml.Data.LoadFromEnumerable(train));
    double fit = clock.Elapsed.TotalSeconds;
    clock.Restart();
    var p = model.Transform(ml.Data.LoadFromEnumerable(test)).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
    return new Outcome(p, fit, clock.Elapsed.TotalSeconds);
}

Outcome RbfGp(ImageFile[] train)
{
    var clock = Stopwatch.StartNew();
    var (x, y) = Tensors(train, null);
    var features = SequentialSplit.Penultimate(Load());
    var gp = RbfGaussianProcess.Fit(Training.Predict(features, Normalize(x)), y.data<long>().ToArray(), Classes);
    double fit = clock.Elapsed.TotalSeconds;
    clock.Restart();
    var p = gp.Predict(Training.Predict(features, Normalize(Tensors(test, null).X)));
    return new Outcome(p, fit, clock.Elapsed.TotalSeconds);
}

Outcome FineTune(ImageFile[] train, string method, string? onlyPrefix, int k, int draw)
{
    var clock = Stopwatch.StartNew();
    var (x, y) = Tensors(train, null);
    var (module, choice) = fineTuning.Fit(x, y, onlyPrefix, k, draw, () => Tensors(Draw(5, draw), null));
    choices.Add((method, k, choice));
    double fit = clock.Elapsed.TotalSeconds;
    clock.Restart();
    var p = Probabilities(module, Tensors(test, null).X);
    return new Outcome(p, fit, clock.Elapsed.TotalSeconds);
}

Outcome Unadapted()
{
    var clock = Stopwatch.StartNew();
    var p = Probabilities(Load(), Tensors(test, null).X);
    return new Outcome(p, 0, clock.Elapsed.TotalSeconds);
}

long Parameters() => Load().parameters().Sum(p => p.numel());

/// <summary>What a method gives on the target test set, and how long its fit and its predictions took.</summary>
internal sealed record Outcome(float[][] Probabilities, double FitSeconds, double PredictSeconds);
