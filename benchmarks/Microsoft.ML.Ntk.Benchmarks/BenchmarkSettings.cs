using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TorchSharp;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// Every benchmark runs in this process (so the ratios compare like with like), on 2 threads, with one
/// invocation per iteration: each operation takes from milliseconds to seconds.
/// </summary>
internal sealed class ProductsConfig : ManualConfig
{
    public ProductsConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                          .WithWarmupCount(2).WithIterationCount(6).WithInvocationCount(1).WithUnrollFactor(1));
        HideColumns("Job", "Toolchain", "InvocationCount", "IterationCount", "UnrollFactor", "WarmupCount", "Error");
    }
}

/// <summary>Fits of seconds: one warm-up and three measured runs of one invocation each, in this process.</summary>
internal sealed class AdaptationConfig : ManualConfig
{
    public AdaptationConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                          .WithWarmupCount(1).WithIterationCount(3).WithInvocationCount(1).WithUnrollFactor(1));
        HideColumns("Job", "Toolchain", "InvocationCount", "IterationCount", "UnrollFactor", "WarmupCount", "Error");
    }
}

/// <summary>One run of fits that take minutes: the in-process toolchain with a 20-minute limit (its default is 5).</summary>
internal sealed class LongFitConfig : ManualConfig
{
    public LongFitConfig()
    {
        AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(20), logOutput: true))
                          .WithStrategy(BenchmarkDotNet.Engines.RunStrategy.Monitoring)
                          .WithLaunchCount(1).WithWarmupCount(0).WithIterationCount(1).WithInvocationCount(1).WithUnrollFactor(1));
        HideColumns("Job", "Toolchain", "InvocationCount", "IterationCount", "UnrollFactor", "WarmupCount", "LaunchCount", "RunStrategy", "Error", "StdDev");
    }
}

internal static class Threads
{
    public const int Count = 2;

    public static void Set()
    {
        TorchSharpLoader.EnsureLoaded();
        torch.set_num_threads(Count);
    }
}
