using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>One fit takes seconds to minutes: each case runs once (monitoring), in process, on 2 threads.</summary>
internal sealed class FitConfig : ManualConfig
{
    public FitConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithStrategy(RunStrategy.Monitoring)
                          .WithLaunchCount(1).WithWarmupCount(0).WithIterationCount(1).WithInvocationCount(1).WithUnrollFactor(1));
        HideColumns("Job", "Toolchain", "InvocationCount", "IterationCount", "UnrollFactor", "WarmupCount", "LaunchCount", "RunStrategy", "Error", "StdDev");
    }
}

/// <summary>A problem size and strategy; dense cases stop at the dense limit (5,000 training outputs).</summary>
public sealed record FitCase(string Network, long Samples, InferenceStrategy Strategy)
{
    public override string ToString() => $"{Network} N={Samples} {Strategy}";
}

/// <summary>
/// Regression fit time against N for MLPs 1-256-256-256-1 (P = 132k) and 1-700-700-700-1 (P = 983k), float32, on
/// y = sin(3x) + noise, hyperparameters learned, CG to a 1e-3 relative residual (at most 300 iterations), 4 probes and
/// 30 Lanczos steps for the iterative strategies. After each fit it prints the solver's iterations and residual and the
/// peak resident memory of the fit ("// fit:" lines in the log).
/// </summary>
[Config(typeof(FitConfig))]
public class RegressionFitBenchmarks
{
    public static IEnumerable<FitCase> Cases()
    {
        foreach (string network in new[] { "P132k", "P983k" })
            foreach (long n in new long[] { 100, 1000, 5000, 20000 })
                foreach (var strategy in new[] { InferenceStrategy.Dense, InferenceStrategy.FunctionSpace, InferenceStrategy.WeightSpace })
                    if ((strategy != InferenceStrategy.Dense || n <= InferenceSettings.DenseLimit) && !(network == "P983k" && n > 5000))
                        yield return new FitCase(network, n, strategy);   // P ≈ 1M at N = 20,000: over 7 minutes a fit here
    }

    [ParamsSource(nameof(Cases))]
    public FitCase Case { get; set; } = null!;

    private LinearizedNetwork network = null!;
    private Tensor x = null!, y = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        long width = Case.Network == "P132k" ? 256 : 700;
        var mlp = Architectures.Mlp(1, new long[] { width, width, width }, 1, () => nn.Tanh());
        mlp.eval();
        network = new LinearizedNetwork(mlp, ParameterSelection.All, TangentMode.Auto, batchSize: 1024);
        x = rand(Case.Samples, 1) * 6 - 3;
        y = (3 * x).sin() + 0.1 * randn_like(x);
    }

    [Benchmark(Description = "fit")]
    public void Fit()
    {
        PeakMemory.Reset();
        using var scope = NewDisposeScope();
        var settings = new RegressionSettings(Strategy: Case.Strategy, Probes: 4, LanczosSteps: 30,
                                              Solver: new SolverSettings(Tolerance: 1e-3, MaxIterations: 300));
        var posterior = GaussianProcessRegression.Fit(network, x, y, settings);
        var report = posterior.Report;
        Console.WriteLine($"// fit: {Case} | solver {report.SolverIterations} iterations, residual {report.SolverResidual:E1}, " +
                          $"converged {report.SolverConverged} | s² {report.PriorVariance:G3}, σ² {report.NoiseVariance:G3} | " +
                          $"peak RSS {PeakMemory.MiB():F0} MiB | {report.Elapsed.TotalSeconds:F1} s");
    }
}
