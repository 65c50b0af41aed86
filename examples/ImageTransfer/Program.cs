using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Examples;
using Microsoft.ML.Ntk.Examples.ImageTransfer;
using static TorchSharp.torch;

// Image domain shift. A small CNN is pretrained on plain generated shapes (white on black); the target domain shows the
// same five shapes coloured, textured, rotated and noisy. With 1, 5, 10 and 50 labelled target images per class, compare
// Ntk (softmax and Gaussian likelihoods; all parameters, or only the last convolutional block and the head) with
// fine-tuning the whole network and retraining the last layer. Images are PNG files read by ML.NET's ImageAnalytics
// inside the pipeline. Usage: dotnet run --project examples/ImageTransfer [labels-per-class,...] [seeds]
int[] labelCounts = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : new[] { 1, 5, 10, 50 };
int seeds = args.Length > 1 ? int.Parse(args[1]) : 2;
const int Side = 16, Classes = 5, FineTuneSteps = 200;
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

var methods = new (string Name, Func<ImageFile[], float[][]> Fit)[]
{
    ("Ntk softmax, all parameters", train => Ntk(train, o => { })),
    ("Ntk softmax, last block + head", train => Ntk(train, o => o.AdaptedParameters = ParameterSelection.LastLayers(3))),
    ("Ntk Gaussian, all parameters", train => Ntk(train, o => o.Likelihood = ClassificationLikelihood.Gaussian)),
    ("Ntk Gaussian, last block + head", train => Ntk(train, o => { o.Likelihood = ClassificationLikelihood.Gaussian; o.AdaptedParameters = ParameterSelection.LastLayers(3); })),
    ("fine-tuning, all weights (Adam)", train => Tuned(train, onlyPrefix: null)),
    ("retraining the last layer (Adam)", train => Tuned(train, onlyPrefix: "10.")),
    ("unadapted network", _ => Probabilities(Load(), testX)),
};

var table = new MarkdownTable("labels per class", "method", "accuracy", "NLL", "ECE", "fit + predict time (s)");
var reliability = new List<(string, Metrics.ReliabilityBin[])>();
foreach (int k in labelCounts)
{
    var runs = methods.Select(_ => new List<(double Accuracy, double Nll, double Ece, double Seconds)>()).ToArray();
    int draws = k >= pool.Length / Classes ? 1 : seeds;   // the whole pool: every draw would hold the same images
    for (int s = 0; s < draws; s++)
    {
        var random = new Random(100 * k + s);
        var train = pool.GroupBy(f => f.Shape).SelectMany(g => g.OrderBy(_ => random.Next()).Take(k)).ToArray();
        for (int m = 0; m < methods.Length; m++)
        {
            var clock = Stopwatch.StartNew();
            var p = methods[m].Fit(train);
            double seconds = clock.Elapsed.TotalSeconds;
            runs[m].Add((Metrics.Accuracy(p, testLabels), Metrics.ClassificationNll(p, testLabels), Metrics.ExpectedCalibrationError(p, testLabels), seconds));
            if (k == 10 && s == 0 && methods[m].Name is "Ntk softmax, all parameters" or "Ntk Gaussian, all parameters" or "fine-tuning, all weights (Adam)")
                reliability.Add((methods[m].Name, Metrics.Reliability(p, testLabels)));
        }
        log.Report($"  {k} labels per class, seed {s}: done");
    }
    for (int m = 0; m < methods.Length; m++)
        table.Add(k.ToString(), methods[m].Name, MarkdownTable.WithError(Metrics.MeanAndError(runs[m].Select(r => r.Accuracy).ToArray())),
                  MarkdownTable.WithError(Metrics.MeanAndError(runs[m].Select(r => r.Nll).ToArray())),
                  MarkdownTable.WithError(Metrics.MeanAndError(runs[m].Select(r => r.Ece).ToArray())),
                  MarkdownTable.Number(runs[m].Average(r => r.Seconds), "F1"));
}
Console.WriteLine(table);
Plots.Save(Results.PathOf("images-reliability.png"), new[] { Plots.Reliability("10 labels per class: reliability on the target test set", reliability) }, columns: 1, 620, 460);
Montage.Save(Results.PathOf("images-domains.png"), source.Take(10).Concat(test.Take(10)).Select(f => f.Path).ToArray(), columns: 10);
Results.WriteMarkdown("images.md", "Image transfer: plain shapes → coloured, textured, rotated, noisy shapes", "dotnet run --project examples/ImageTransfer",
    $"""
    ![Source (top) and target (bottom) images](images-domains.png)

    Small CNN (conv 16 – BN – ReLU – pool – conv 32 – BN – ReLU – pool – global average – linear, P = {Parameters()}) pretrained on
    {source.Length} plain source images; adapted with k labelled target images per class and tested on {test.Length} target images
    (mean ± standard error over {seeds} draws of the labelled images from a pool of {pool.Length / Classes} per class; at {pool.Length / Classes}
    labels per class the whole pool is used, once, so there is no standard error). Images are {ShapeImages.Size}×{ShapeImages.Size} PNG files resized to
    {Side}×{Side} by ImageAnalytics; the Ntk trainer normalizes each channel with the source statistics (ChannelMeans /
    ChannelStandardDeviations). Fine-tuning: Adam, learning rate 1e-3, {FineTuneSteps} full-batch steps, batch norm kept in evaluation mode.
    ECE: expected calibration error over 10 confidence bins.

    {table}
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

float[][] Probabilities(nn.Module<Tensor, Tensor> module, Tensor x)
{
    Tensor p = Training.Predict(module, Normalize(x)).softmax(1);
    return Enumerable.Range(0, (int)p.shape[0]).Select(i => p[i].data<float>().ToArray()).ToArray();
}

double Accuracy(nn.Module<Tensor, Tensor> module, Tensor x, Tensor y) =>
    Metrics.Accuracy(Probabilities(module, x), y.data<long>().Select(v => (int)v).ToArray());

float[][] Ntk(ImageFile[] train, Action<NtkMulticlassTrainer.Options> configure)
{
    var options = new NtkMulticlassTrainer.Options { Network = network, ChannelMeans = means, ChannelStandardDeviations = deviations };
    configure(options);
    var model = Pixels().Append(ml.MulticlassClassification.Trainers.Ntk(options)).Fit(ml.Data.LoadFromEnumerable(train));
    return model.Transform(ml.Data.LoadFromEnumerable(test)).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
}

float[][] Tuned(ImageFile[] train, string? onlyPrefix)
{
    var (x, y) = Tensors(train, null);
    var module = Load();
    Training.Classification(module, Normalize(x), y, FineTuneSteps, learningRate: 1e-3, onlyPrefix, trainingMode: false);
    return Probabilities(module, testX);
}

long Parameters() => Load().parameters().Sum(p => p.numel());
