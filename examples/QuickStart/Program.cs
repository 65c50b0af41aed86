using System.Diagnostics;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;
using TorchSharp;
using static TorchSharp.torch;

// For now: an end-to-end check of the platform. A small TorchSharp network runs a forward and a
// backward pass for every row of an ML.NET pipeline; the input gradient is checked against central
// finite differences. Later this grows into the full story (pretrain, adapt with Ntk, compare).
var clock = Stopwatch.StartNew();
TorchSharpLoader.EnsureLoaded();
Console.WriteLine($"TorchSharp {VersionOf(typeof(torch))}, libtorch {torch.__version__}");
Console.WriteLine($"ML.NET {VersionOf(typeof(MLContext))}");
Console.WriteLine($"Microsoft.ML.Ntk {VersionOf(typeof(TorchSharpLoader))}, .NET {Environment.Version}");

torch.manual_seed(0);
var network = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(ScalarType.Float64);
network.eval();
var gate = new object();

var context = new MLContext(seed: 0);
var rows = Enumerable.Range(0, 5).Select(i => new Point { X1 = i - 2f, X2 = 0.5f * i }).ToArray();
var pipeline = context.Transforms.Concatenate("Features", nameof(Point.X1), nameof(Point.X2))
    .Append(context.Transforms.CustomMapping<FeatureVector, NetworkOutput>((input, output) =>
    {
        lock (gate) Evaluate(network, input.Features, output);
    }, contractName: null));
var transformed = pipeline.Fit(context.Data.LoadFromEnumerable(rows)).Transform(context.Data.LoadFromEnumerable(rows));

Console.WriteLine();
Console.WriteLine("   x1     x2 |   f(x)     df/dx1    df/dx2 | max |gradient - finite difference|");
double worst = 0;
foreach (var row in context.Data.CreateEnumerable<Result>(transformed, reuseRowObject: false))
{
    double error = FiniteDifferenceError(network, row.Features, row.Gradient);
    worst = Math.Max(worst, error);
    Console.WriteLine($"{row.Features[0],5:F2} {row.Features[1],6:F2} | {row.Output,8:F5} {row.Gradient[0],9:F5} {row.Gradient[1],9:F5} | {error:E1}");
}
Console.WriteLine();
bool ok = worst < 1e-8;
Console.WriteLine(ok ? $"OK: forward and backward passes ran inside an ML.NET pipeline ({clock.Elapsed.TotalSeconds:F1} s)."
                     : $"FAILED: the backward pass disagrees with finite differences by {worst:E2}.");
return ok ? 0 : 1;

static string VersionOf(Type type)
{
    string? version = type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
    return version?.Split('+')[0] ?? type.Assembly.GetName().Version?.ToString() ?? "?";
}

static void Evaluate(nn.Module<Tensor, Tensor> network, float[] features, NetworkOutput output)
{
    using var scope = NewDisposeScope();
    var x = tensor(features.Select(v => (double)v).ToArray(), dtype: ScalarType.Float64).requires_grad_(true);
    var y = network.forward(x.unsqueeze(0)).sum();
    y.backward();
    output.Output = y.item<double>();
    output.Gradient = x.grad!.data<double>().ToArray();
}

static double FiniteDifferenceError(nn.Module<Tensor, Tensor> network, float[] features, double[] gradient)
{
    const double step = 1e-5;
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    double worst = 0;
    for (int i = 0; i < features.Length; i++)
    {
        double[] plus = features.Select(v => (double)v).ToArray(), minus = (double[])plus.Clone();
        plus[i] += step;
        minus[i] -= step;
        double f(double[] p) => network.forward(tensor(p, dtype: ScalarType.Float64).unsqueeze(0)).sum().item<double>();
        worst = Math.Max(worst, Math.Abs((f(plus) - f(minus)) / (2 * step) - gradient[i]));
    }
    return worst;
}

sealed class Point
{
    public float X1 { get; set; }
    public float X2 { get; set; }
}

sealed class FeatureVector
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();
}

sealed class NetworkOutput
{
    public double Output { get; set; }

    [VectorType(2)]
    public double[] Gradient { get; set; } = Array.Empty<double>();
}

sealed class Result
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();
    public double Output { get; set; }

    [VectorType(2)]
    public double[] Gradient { get; set; } = Array.Empty<double>();
}
