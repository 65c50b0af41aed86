namespace Microsoft.ML.Ntk.Tests.Stress;

/// <summary>A thread forcing a garbage collection (and the finalizers) every 2 ms until disposed: what makes TorchSharp's Scalar race likely.</summary>
internal sealed class ForcedCollector : IDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Thread thread;

    public ForcedCollector()
    {
        thread = new Thread(() => { while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); Thread.Sleep(2); } })
        { IsBackground = true };
        thread.Start();
    }

    public void Dispose()
    {
        stop.Cancel();
        thread.Join();
        stop.Dispose();
    }

    /// <summary>The process's resident set (VmRSS), or 0 where /proc is not there.</summary>
    public static long ResidentBytes()
    {
        if (!File.Exists("/proc/self/status")) return 0;
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
