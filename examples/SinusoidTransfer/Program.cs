using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Ntk;
using Microsoft.ML.Ntk.Examples;
using static Microsoft.ML.Ntk.Examples.OneDimensionalRegression;
using static TorchSharp.torch;

// The reference's regression experiment. An MLP 1-40-40-1 (tanh) is pretrained on one source sinusoid task; each target
// task, a sinusoid y = A sin(w x + b) with A in [0.1, 5], b in [0, 2π], w in [0.5, 2] (or, in the second variant, a line
// for half of the tasks), is observed at 10 noisy points in [-5, 5] and tested on 100. Methods: Ntk in function space
// and in weight space, a Bayesian last layer (the Ntk trainer adapting only the last layer), fine-tuning all weights or the
// last block and retraining the last layer (learning rate and step count by 5-fold cross-validation on the task's points,
// AdamGrid.Regression), a plain RBF-kernel GP on the inputs, and the unadapted network.
// Usage: dotnet run -c Release --project examples/SinusoidTransfer [tasks]
int tasks = args.Length > 0 ? int.Parse(args[0]) : 100;
const int TrainPoints = 10, TestPoints = 100, Folds = 5;
const double Noise = 0.05;
var log = new ConsoleProgress();
TorchSharpLoader.EnsureLoaded();
var architecture = NetworkArchitecture.Mlp(1, new[] { 40, 40 }, 1, Activation.Tanh);
string weights = Training.Pretrained(Results.CacheFile("sinusoid-source.bin"), seed: 0, architecture.CreateModule, module =>
{
    Tensor x = linspace(-5, 5, 500).reshape(-1, 1);
    Training.Regression(module, x, 2.5 * (1.25 * x + Math.PI / 2).sin(), steps: 4000, learningRate: 3e-3);
}, log);
var network = PretrainedNetwork.FromArchitecture(architecture, weights);
var pretrained = Load(architecture, weights);
var ml = new MLContext(seed: 1);

var choices = new Dictionary<string, List<AdamChoice>>();
const string Tuned = " (Adam, learning rate and steps by cross-validation)";
var methods = new (string Name, Func<Point[], Func<Point[], Predictive>> Fit)[]
{
    ("Ntk, dense (exact marginal likelihood, default noise floor 1e-3; what Auto picks here)", train => Ntk(train, o => o.Strategy = InferenceStrategy.Dense)),
    ("Ntk, dense, zero prior mean", train => Ntk(train, o => { o.Strategy = InferenceStrategy.Dense; o.Mean = PriorMean.Zero; })),
    ("Ntk, dense, pure maximum likelihood (NoiseVarianceFloor = 0)", train => Ntk(train, o => { o.Strategy = InferenceStrategy.Dense; o.NoiseVarianceFloor = 0; })),
    ("Ntk, dense, NoiseVarianceFloor = 1e-4", train => Ntk(train, o => { o.Strategy = InferenceStrategy.Dense; o.NoiseVarianceFloor = 1e-4; })),
    ("Ntk, dense, NoiseVarianceFloor = 1e-2", train => Ntk(train, o => { o.Strategy = InferenceStrategy.Dense; o.NoiseVarianceFloor = 1e-2; })),
    ("Ntk, function space", train => Ntk(train, o => o.Strategy = InferenceStrategy.FunctionSpace)),
    ("Ntk, weight space", train => Ntk(train, o => o.Strategy = InferenceStrategy.WeightSpace)),
    ("Bayesian last layer (Ntk, last layer only)", train => Ntk(train, o => o.AdaptedParameters = ParameterSelection.LastLayers(1))),
    ("RBF-kernel GP on the inputs (marginal-likelihood hyperparameters)", Microsoft.ML.Ntk.Examples.Sinusoid.RbfRegression.Fit),
    ("fine-tuning, all weights" + Tuned, train => FineTune(train, "all weights", onlyPrefix: null)),
    ("fine-tuning the last block" + Tuned, train => FineTune(train, "last block", onlyPrefix: "2.,4.")),
    ("retraining the last layer" + Tuned, train => FineTune(train, "last layer", onlyPrefix: "4.")),
    ("unadapted network", train => Unadapted(train)),
};

int functionSpace = Array.FindIndex(methods, m => m.Name == "Ntk, function space");
int weightSpace = Array.FindIndex(methods, m => m.Name == "Ntk, weight space");
var body = new System.Text.StringBuilder();
var panels = new List<OxyPlot.PlotModel>();
foreach (var (variant, linearFraction) in new[] { ("sinusoid targets", 0.0), ("half of the targets linear", 0.5) })
{
    log.Report($"{variant}: {tasks} tasks × {methods.Length} methods ...");
    var results = methods.Select(_ => new List<(double Mse, double Nll, double Fit, double Predict)>()).ToArray();
    choices.Clear();
    int apart = 0;   // tasks where the weight-space mean strays from the function-space one
    var random = new Random(variant.Length * 1000 + 7);
    for (int t = 0; t < tasks; t++)
    {
        Func<double, double> truth = random.NextDouble() < linearFraction ? Line(random) : Sinusoid(random);
        var train = Sample(truth, random, TrainPoints, grid: false);
        var test = Sample(truth, random, TestPoints, grid: true);
        var means = new double[methods.Length][];
        for (int m = 0; m < methods.Length; m++)
        {
            var clock = Stopwatch.StartNew();
            var predict = methods[m].Fit(train);
            double fit = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var prediction = predict(test);
            double seconds = clock.Elapsed.TotalSeconds;
            means[m] = prediction.Mean;
            double[] y = Truth(test);
            results[m].Add((Metrics.MeanSquaredError(prediction.Mean, y), Metrics.GaussianNll(prediction.Mean, prediction.Variance, y), fit, seconds));
            if (linearFraction == 0 && t < 4 && m == functionSpace) panels.Add(Panel(t, truth, train, test, prediction));
        }
        if (means[functionSpace].Zip(means[weightSpace], (a, b) => Math.Abs(a - b)).Max() > 0.1) apart++;
        if ((t + 1) % 10 == 0) log.Report($"  {t + 1}/{tasks} tasks");
    }
    var table = new MarkdownTable("method", "test MSE", "median test MSE", "test NLL", "median test NLL", "fit (ms)", "predict (ms)");
    for (int m = 0; m < methods.Length; m++)
        table.Add(methods[m].Name, MarkdownTable.WithError(Metrics.MeanAndError(results[m].Select(r => r.Mse).ToArray())),
                  MarkdownTable.Number(Metrics.Median(results[m].Select(r => r.Mse).ToArray())),
                  MarkdownTable.WithError(Metrics.MeanAndError(results[m].Select(r => r.Nll).ToArray())),
                  MarkdownTable.Number(Metrics.Median(results[m].Select(r => r.Nll).ToArray())),
                  MarkdownTable.Number(1000 * results[m].Average(r => r.Fit), "F1"), MarkdownTable.Number(1000 * results[m].Average(r => r.Predict), "F1"));
    Console.WriteLine(table);
    body.Append($"## {char.ToUpper(variant[0]) + variant[1..]} ({tasks} tasks, mean ± standard error, and the median)\n\n{table}\n");
    body.Append("Choices of the gradient baselines (learning rate / steps × tasks): " +
                string.Join("; ", choices.Select(c => $"{c.Key}: {AdamChoice.Counts(c.Value)}")) + ".\n\n");
    body.Append($"Weight-space and function-space posterior means differ by more than 0.1 somewhere on the test grid in {apart} of {tasks} tasks.\n\n");
}
body.Append($"""
    Setup: MLP 1-40-40-1 (tanh) pretrained on y = 2.5 sin(1.25 x + π/2); each target task has {TrainPoints} points in [-5, 5] with noise
    σ = {Noise} and is tested on {TestPoints} points of a grid (same noise). Fine-tuning all weights, the last block (the last hidden
    layer and the output layer, "2.,4.") and retraining the last layer ("4."): full-batch Adam from the pretrained weights, the
    learning rate and the step count chosen on the task's {TrainPoints} points by {Folds}-fold cross-validation, the same grid rule in all
    three examples ({AdamGrid.Regression.Describe()}): the candidate with the lowest held-out MSE averaged over the folds; then the
    network is retrained on all {TrainPoints} points with it. All candidates of a task (learning rates × (folds + one run on all points))
    train at once as one stacked model (weights [M, in, out], torch.bmm, Adam with one learning rate per copy); the run on all points
    at the chosen checkpoint is the retrained network, as full-batch Adam is deterministic. Their fit time covers that whole loop; the
    choices are counted under each table. Networks without uncertainty of their own use the variance of their training residuals
    (at least 1e-6) as predictive variance. Fit and predict times are per task: an Ntk fit is the ML.NET pipeline's Fit on the
    training points, its prediction the Transform of the test points; the RBF-kernel GP's fit chooses its hyperparameters and solves
    for its weights. The Bayesian last layer is the Ntk trainer with `AdaptedParameters = LastLayers(1)`: Bayesian linear
    regression on the penultimate features, the pretrained last layer as prior mean, hyperparameters by marginal likelihood. The
    RBF-kernel GP knows nothing of the source task: exact GP regression on x with a squared-exponential kernel and the training mean as
    constant mean, lengthscale (0.1 … 10), signal and noise variances maximizing the marginal likelihood over a log grid.
    The noise variance of Ntk is learned above a floor, a fraction of the mean square of y − m around the prior mean
    (`NoiseVarianceFloor`, default 1e-3); the rows with other floors, and with none (pure maximum likelihood), show its effect.
    Without a floor the mean NLL is dominated by a few tasks where σ² collapsed; the median shows the typical task.

    ![Four sinusoid tasks](sinusoid.png)

    """);
Results.WriteMarkdown("sinusoid.md", "Sinusoid transfer", "dotnet run -c Release --project examples/SinusoidTransfer", body.ToString());
Plots.Save(Results.PathOf("sinusoid.png"), panels, columns: 2);
return 0;

Func<Point[], Predictive> Ntk(Point[] train, Action<NtkRegressionTrainer.Options> configure)
{
    var options = new NtkRegressionTrainer.Options { Network = network };
    configure(options);
    var model = ml.Transforms.Concatenate("Features", nameof(Point.X)).Append(ml.Regression.Trainers.Ntk(options)).Fit(ml.Data.LoadFromEnumerable(train));
    return test => Score(ml, model, test);
}

Func<Point[], Predictive> FineTune(Point[] train, string which, string? onlyPrefix)
{
    var fitted = Microsoft.ML.Ntk.Examples.Sinusoid.CrossValidatedFineTuning.Fit(pretrained, train, AdamGrid.Regression, Folds, onlyPrefix);
    (choices.TryGetValue(which, out var list) ? list : choices[which] = new()).Add(fitted.Choice);
    return fitted.Predict;
}

Func<Point[], Predictive> Unadapted(Point[] train) => test => Deterministic(pretrained, train, test);

static Func<double, double> Sinusoid(Random random)
{
    double a = 0.1 + 4.9 * random.NextDouble(), b = 2 * Math.PI * random.NextDouble(), w = 0.5 + 1.5 * random.NextDouble();
    return x => a * Math.Sin(w * x + b);
}

static Func<double, double> Line(Random random)
{
    double slope = 2 * random.NextDouble() - 1, offset = 4 * random.NextDouble() - 2;
    return x => slope * x + offset;
}

static Point[] Sample(Func<double, double> truth, Random random, int count, bool grid) =>
    Enumerable.Range(0, count).Select(i => grid ? -5 + 10.0 * i / (count - 1) : 10 * random.NextDouble() - 5)
        .Select(x => new Point { X = (float)x, Label = (float)(truth(x) + Noise * Gaussian(random)) }).ToArray();

static OxyPlot.PlotModel Panel(int task, Func<double, double> truth, Point[] train, Point[] test, Predictive ntk)
{
    double[] x = test.Select(p => (double)p.X).ToArray();
    return Plots.Regression(new Plots.Panel($"task {task + 1}: Ntk (function space) ±2σ", x, x.Select(truth).ToArray(),
        train.Select(p => (double)p.X).ToArray(), Truth(train), ntk.Mean, ntk.Variance, Array.Empty<(string, double[])>()), "Ntk mean");
}
