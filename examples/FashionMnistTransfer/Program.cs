using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Examples;
using Microsoft.ML.Ntk.Examples.FashionMnist;
using static TorchSharp.torch;

// Transfer on real images: Fashion-MNIST (Zalando Research, MIT licence), read from its four IDX files. A small CNN is
// pretrained on a source task and adapted with 1, 5, 10, 50 and 100 labelled target images per class, under two shifts:
//   rotated: the same ten classes, turned by 90° and at half the contrast (0.25 + 0.5 x);
//   new classes: pretrained on T-shirt, Trouser, Pullover, Dress, Coat; adapted to Sandal, Shirt, Sneaker, Bag, Ankle boot,
//   reusing the five outputs of the head.
// Methods: Ntk (softmax Laplace, all parameters; independent outputs, the full kernel up to 10 labels per class, and a zero
// prior mean up to 50), a Bayesian last layer (Ntk on the head only), an RBF-kernel GP on the penultimate features,
// fine-tuning all weights or the last block and retraining the last layer (learning rate and step count chosen on a held-out
// fifth of the labelled images, AdamGrid.Classification), and the unadapted network.
// Usage: dotnet run -c Release --project examples/FashionMnistTransfer [folder-with-the-IDX-files] [draws] [labels-per-class,...]
string folder = args.Length > 0 ? args[0] : FashionMnistData.DebianFolder;
int draws = args.Length > 1 ? int.Parse(args[1]) : 5;
if (FashionMnistData.Missing(folder) is { } missing)
{
    Console.Error.WriteLine(missing);
    return 2;
}
int[] labelCounts = args.Length > 2 ? args[2].Split(',').Select(int.Parse).ToArray() : new[] { 1, 5, 10, 50, 100 };
const int TestImages = 2000;
var log = new ConsoleProgress();
TorchSharpLoader.EnsureLoaded();
var data = FashionMnistData.Load(folder);
log.Report($"Fashion-MNIST from {folder}: {data.TrainLabels.Length} training and {data.TestLabels.Length} test images of 28×28.");
var ml = new MLContext(seed: 1);
var body = new System.Text.StringBuilder();
var reliability = new List<(string, Metrics.ReliabilityBin[])>();

foreach (var shift in Shifts.All)
{
    var run = new ShiftRun(shift, data, TestImages, log);
    // The full kernel (cross-output terms) costs an N·C × N·C factorization per Newton step: run up to 10 labels per class. The
    // zero prior mean runs up to 50, enough to show what the pretrained outputs as prior mean are worth.
    var methods = new (string Name, int MaxLabels, Func<Tensor, Tensor, int, int, Outcome> Fit)[]
    {
        ("Ntk softmax, all parameters, independent outputs", int.MaxValue, (x, y, k, d) => run.Ntk(ml, x, y)),
        ("Ntk softmax, all parameters, full kernel", 10, (x, y, k, d) => run.Ntk(ml, x, y, o => o.IndependentOutputs = false)),
        ("Ntk softmax, all parameters, zero prior mean", 50, (x, y, k, d) => run.Ntk(ml, x, y, o => o.Mean = PriorMean.Zero)),
        ("Bayesian last layer (Ntk, last layer only)", int.MaxValue, (x, y, k, d) => run.Ntk(ml, x, y, o => o.AdaptedParameters = ParameterSelection.LastLayers(1))),
        ("RBF-kernel GP on the penultimate features", int.MaxValue, (x, y, k, d) => run.RbfGp(x, y)),
        ("fine-tuning, all weights (Adam, learning rate and steps chosen on held-out labels)", int.MaxValue, (x, y, k, d) => run.FineTune(x, y, onlyPrefix: null, k, d)),
        ("fine-tuning the last block (Adam, learning rate and steps chosen on held-out labels)", int.MaxValue, (x, y, k, d) => run.FineTune(x, y, onlyPrefix: "4.,5.,10.", k, d)),
        ("retraining the last layer (Adam, learning rate and steps chosen on held-out labels)", int.MaxValue, (x, y, k, d) => run.FineTune(x, y, onlyPrefix: "10.", k, d)),
        ("unadapted network", int.MaxValue, (x, y, k, d) => run.Unadapted()),
    };
    var table = new MarkdownTable("labels per class", "method", "accuracy", "median accuracy", "NLL", "median NLL", "ECE", "median ECE", "fit (s)", "predict (s)");
    var rowsByCount = new SortedDictionary<int, List<string[]>>();
    var ntkChoices = new List<(string Method, int K, double PriorVariance, double CovarianceScale)>();
    // 5 labels per class first: at 1 label per class nothing can be held out, and fine-tuning takes the learning rate chosen at 5.
    foreach (int k in labelCounts.OrderBy(k => k == 1 ? int.MaxValue : k))
    {
        var outcomes = methods.Select(_ => new List<Outcome>()).ToArray();
        for (int d = 0; d < draws; d++)
        {
            var (x, y) = run.Labelled(k, ShiftRun.LabelSeed(k, d));
            for (int m = 0; m < methods.Length; m++)
            {
                if (k > methods[m].MaxLabels) continue;
                var outcome = methods[m].Fit(x, y, k, d);
                outcomes[m].Add(outcome);
                bool ntk = methods[m].Name.StartsWith("Ntk", StringComparison.Ordinal) || methods[m].Name.StartsWith("Bayesian", StringComparison.Ordinal);
                if (ntk) ntkChoices.Add((methods[m].Name.Split(" (")[0], k, run.LastNtkChoice.PriorVariance, run.LastNtkChoice.CovarianceScale));
                if (d == 0 && ntk) log.Report($"  {methods[m].Name}, {k} per class: {run.LastNtkSummary}");
                if (k == 10 && d == 0 && methods[m].Name.Split(" (")[0] is "Ntk softmax, all parameters, independent outputs" or "fine-tuning, all weights")
                    reliability.Add(($"{shift.Name}: {methods[m].Name.Split(" (")[0]}", Metrics.Reliability(outcome.Probabilities, run.TestLabels)));
            }
            log.Report($"  {shift.Name}, {k} labels per class, draw {d + 1}/{draws}: done");
        }
        for (int m = 0; m < methods.Length; m++)
        {
            if (outcomes[m].Count == 0) continue;
            double[] accuracy = outcomes[m].Select(o => Metrics.Accuracy(o.Probabilities, run.TestLabels)).ToArray();
            double[] nll = outcomes[m].Select(o => Metrics.ClassificationNll(o.Probabilities, run.TestLabels)).ToArray();
            double[] ece = outcomes[m].Select(o => Metrics.ExpectedCalibrationError(o.Probabilities, run.TestLabels)).ToArray();
            (rowsByCount.TryGetValue(k, out var list) ? list : rowsByCount[k] = new()).Add(new[] { k.ToString(), methods[m].Name, MarkdownTable.WithError(Metrics.MeanAndError(accuracy)), MarkdownTable.Number(Metrics.Median(accuracy)),
                      MarkdownTable.WithError(Metrics.MeanAndError(nll)), MarkdownTable.Number(Metrics.Median(nll)),
                      MarkdownTable.WithError(Metrics.MeanAndError(ece)), MarkdownTable.Number(Metrics.Median(ece)),
                      MarkdownTable.Number(outcomes[m].Average(o => o.FitSeconds), "F2"),
                      MarkdownTable.Number(outcomes[m].Average(o => o.PredictSeconds), "F2") });
        }
    }
    foreach (var rows in rowsByCount.Values) foreach (var row in rows) table.Add(row);
    Console.WriteLine(table);
    body.Append($"## {shift.Name}: {shift.Description}\n\n");
    body.Append($"Pretrained on {run.SourceCount} source images ({string.Join(", ", shift.SourceClasses.Select(c => FashionMnistData.ClassNames[c]))}); " +
                $"source test accuracy {run.SourceAccuracy:P1}. Labelled target images are drawn from a pool of {run.PoolCount} (training images 50,000 … 59,999, " +
                $"never used in pretraining); the test set is the first {run.TestLabels.Length} target test images. Mean ± standard error over {draws} draws " +
                $"of the labelled images, and the median.\n\n{table}\n");
    body.Append("Fine-tuning's choices (learning rate / steps, one per draw): " + string.Join("; ", run.Choices.GroupBy(c => (c.OnlyPrefix, c.K))
        .OrderBy(g => g.Key.OnlyPrefix ?? "").ThenBy(g => g.Key.K)
        .Select(g => $"{(g.Key.OnlyPrefix is null ? "all weights" : g.Key.OnlyPrefix == "10." ? "last layer" : "last block")} at {g.Key.K}: " +
                     string.Join(", ", g.Select(c => c.Choice.ToString())))) + ".\n\n");
    if (run.FivePerClassDrawnForOneLabel > 0)
        body.Append("5 labels per class were not run: each choice at 1 label per class was made on the 5-per-class set of its draw, drawn for it " +
                    "(and timed in the 1-label fit).\n\n");
    body.Append("Ntk's choices (s² by the evidence / covariance scale τ on held-out folds, one per draw): " + string.Join("; ", ntkChoices.GroupBy(c => (c.Method, c.K))
        .OrderBy(g => g.Key.Method).ThenBy(g => g.Key.K)
        .Select(g => $"{g.Key.Method} at {g.Key.K}: " + string.Join(", ", g.Select(c => $"{c.PriorVariance:G3}/{c.CovarianceScale:G2}")))) + ".\n\n");
}
Plots.Save(Results.PathOf("fashion-reliability.png"), new[] { Plots.Reliability("10 labels per class, first draw: reliability on the target test set", reliability) },
           columns: 1, 620, 460);
Results.WriteMarkdown("fashion-mnist.md", "Fashion-MNIST transfer: rotated images and new classes", "dotnet run -c Release --project examples/FashionMnistTransfer",
    $"""
    Small CNN (conv 16 – BN – ReLU – pool – conv 32 – BN – ReLU – pool – global average – linear) on 1×28×28 images, pixels scaled to
    [0, 1] and standardized with the source images' mean and standard deviation (the Ntk trainer's ChannelMeans /
    ChannelStandardDeviations; the same for the baselines). Pretraining: Adam, learning rate 3e-3, 1,500 steps of 128 images, one thread,
    seeded. Ntk: the multiclass trainer through an ML.NET pipeline (MapValueToKey with the class names in output order,
    OutputClassNames), softmax likelihood, s² by the Laplace evidence, probit predictions from the Laplace covariance times the
    factor chosen on held-out labels (the default CovarianceScale: 5-fold cross-validation on the labelled images), with independent outputs (C blocks of
    N × N) or the full kernel (up to 10 labels per class: beyond, one N·C × N·C factorization per Newton step costs minutes);
    its fit time includes reading the rows and saving the model state, its predict time is ML.NET's row-by-row Transform of the
    test set (batched). "Zero prior mean" is the same trainer with `Mean = PriorMean.Zero` (independent outputs, up to 50 labels per
    class): adaptation starts from uniform predictions instead of the pretrained outputs. Fine-tuning and last-layer retraining: Adam
    on minibatches of 32 (or all images when fewer), batch norm in evaluation mode, the pretrained network as start; the learning rate
    and the step count are chosen on the labelled images themselves, the same rule in all three examples ({AdamGrid.Classification.Describe()}):
    the candidate with the highest accuracy, then the lowest NLL, on a held-out fifth of the labelled images of each class (at least
    one), trained on the other four fifths; then the network is retrained on all labelled images with it. At 1 label per class nothing
    can be held out: the choice made on the 5-per-class set of the same draw is used (the choices are listed under each table).
    Fit times include the choice (at 1 label per class only the retraining: the choice was made, and timed, at 5); frozen layers
    in front of the trained ones are evaluated once (for the last layer: Adam on the cached penultimate features, the same computation
    without the convolutions). The last block is the second convolution, its batch norm and the head. The Bayesian last layer is the Ntk trainer with
    `AdaptedParameters = LastLayers(1)` (Bayesian linear-softmax on the penultimate features, the pretrained head as prior mean).
    The RBF-kernel GP is an exact GP regression on one-hot labels over the 32 penultimate features, its lengthscale, signal and
    noise variances maximizing the marginal likelihood over a grid, its probabilities the posterior mean clamped at 1e-3 and
    normalized; its fit time covers the labelled images' features, the grid search and the factorization, its predict time the test
    images' features and the posterior mean. Predict times of the networks are one batched forward pass over the test images.
    ECE: expected calibration error over 10 confidence bins.

    {body}
    ![Reliability diagrams](fashion-reliability.png)

    """);
return 0;
