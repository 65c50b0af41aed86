using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Examples;
using static Microsoft.ML.Ntk.Examples.OneDimensionalRegression;
using static TorchSharp.torch;

// The whole story on one small problem: pretrain a network on a source task, adapt it to a shifted target task from 12
// labelled points through an ML.NET pipeline ending in the Ntk trainer, compare with fine-tuning, save the model, load
// it back and predict, and write a table and a plot into docs/results.
var log = new ConsoleProgress();
log.Report("Microsoft.ML.Ntk QuickStart: fast adaptation of a pretrained network with uncertainty.");
TorchSharpLoader.EnsureLoaded();
var architecture = NetworkArchitecture.Mlp(1, new[] { 40, 40 }, 1, Activation.Tanh);

// 1. The source task y = sin(x) on [-5, 5]: pretrain once, cache the weights.
string weights = Training.Pretrained(Results.CacheFile("quickstart-source-sin.bin"), seed: 0, architecture.CreateModule, module =>
{
    Tensor x = linspace(-5, 5, 400).reshape(-1, 1);
    Training.Regression(module, x, x.sin(), steps: 3000, learningRate: 3e-3);
}, log);
var network = PretrainedNetwork.FromArchitecture(architecture, weights);

// 2. The target task: amplitude, frequency and phase shifted, noisy, only 12 labels.
static double Target(double x) => 1.6 * Math.Sin(1.3 * x + 0.7);
var random = new Random(42);
var train = Enumerable.Range(0, 12).Select(_ => random.NextDouble() * 10 - 5)
    .Select(x => new Point { X = (float)x, Label = (float)(Target(x) + 0.1 * Gaussian(random)) }).ToArray();
var test = Enumerable.Range(0, 201).Select(i => -5 + i * 0.05)
    .Select(x => new Point { X = (float)x, Label = (float)(Target(x) + 0.1 * Gaussian(random)) }).ToArray();
log.Report($"Target task y = 1.6 sin(1.3 x + 0.7) + noise(0.1): {train.Length} labelled points, {test.Length} test points.");

// 3. Ntk through an ML.NET pipeline.
var ml = new MLContext(seed: 1);
var pipeline = ml.Transforms.Concatenate("Features", nameof(Point.X))
    .Append(ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options { Network = network, Progress = log }));
var clock = Stopwatch.StartNew();
var model = pipeline.Fit(ml.Data.LoadFromEnumerable(train));
double ntkSeconds = clock.Elapsed.TotalSeconds;
var ntk = Score(ml, model, test);
log.Report($"Ntk fitted in {ntkSeconds:F2} s: {model.LastTransformer.FitSummary}");

// 4. Baselines on the same points: the pretrained network as it is, and fine-tuning it with Adam. They give no
//    uncertainty of their own; their NLL uses the variance of their training residuals.
var unadapted = Deterministic(Load(architecture, weights), train, test);
clock.Restart();
var tuned = FineTune(architecture, weights, train, steps: 1000, learningRate: 1e-3);
double tuneSeconds = clock.Elapsed.TotalSeconds;
var fineTuned = Deterministic(tuned, train, test);
log.Report($"Fine-tuned with Adam (1000 steps, learning rate 1e-3) in {tuneSeconds:F2} s.");

double[] truth = Truth(test);
var table = new MarkdownTable("method", "test RMSE", "test NLL", "inside ±2σ", "fit time (s)");
void Row(string name, Predictive p, double seconds) =>
    table.Add(name, MarkdownTable.Number(Math.Sqrt(Metrics.MeanSquaredError(p.Mean, truth))), MarkdownTable.Number(Metrics.GaussianNll(p.Mean, p.Variance, truth)),
              MarkdownTable.Number(100 * Metrics.TwoSigmaCoverage(p.Mean, p.Variance, truth), "F0") + " %", MarkdownTable.Number(seconds, "F2"));
Row("pretrained network, not adapted", unadapted, 0);
Row("fine-tuning (Adam, all weights)", fineTuned, tuneSeconds);
Row("**Ntk** (GP with the network's Jacobian kernel)", ntk, ntkSeconds);
Console.WriteLine();
Console.WriteLine(table);

// 5. Save, load in a fresh context, predict.
string zip = Path.Combine(AppContext.BaseDirectory, "quickstart-model.zip");
ml.Model.Save(model, ml.Data.LoadFromEnumerable(train).Schema, zip);
var loaded = new MLContext().Model.Load(zip, out _);
var engine = ml.Model.CreatePredictionEngine<Point, Prediction>(loaded);
foreach (float x in new[] { -4f, 0f, 4f })
{
    var p = engine.Predict(new Point { X = x });
    Console.WriteLine($"Loaded model at x = {x,4}: {p.Score:F3} ± {2 * Math.Sqrt(p.Variance):F3} (2σ); truth {Target(x):F3}");
}
var reloaded = Score(ml, loaded, test);
log.Report(reloaded.Mean.SequenceEqual(ntk.Mean) && reloaded.Variance.SequenceEqual(ntk.Variance)
    ? $"Saved to {zip}, loaded back: predictions identical." : "WARNING: the loaded model predicts differently.");

// 6. Results into the repository.
Results.WriteMarkdown("quickstart.md", "QuickStart: sin(x) → 1.6 sin(1.3x + 0.7) from 12 points", "dotnet run --project examples/QuickStart",
    table + $"\nNtk: {model.LastTransformer.FitSummary}\n\n![QuickStart](quickstart.png)\n");
double[] testX = test.Select(p => (double)p.X).ToArray();
var panel = new Plots.Panel("12 labels: Ntk mean ±2σ, fine-tuning, pretrained", testX, testX.Select(Target).ToArray(),
                            train.Select(p => (double)p.X).ToArray(), Truth(train), ntk.Mean, ntk.Variance,
                            new[] { ("fine-tuned", fineTuned.Mean), ("pretrained", unadapted.Mean) });
Plots.Save(Results.PathOf("quickstart.png"), new[] { Plots.Regression(panel, "Ntk mean") }, columns: 1, panelWidth: 760, panelHeight: 420);
return 0;
