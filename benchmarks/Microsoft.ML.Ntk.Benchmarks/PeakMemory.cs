namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>The process's peak resident memory (VmHWM), which Linux lets a process reset through /proc/self/clear_refs.</summary>
internal static class PeakMemory
{
    public static void Reset()
    {
        if (File.Exists("/proc/self/clear_refs")) File.WriteAllText("/proc/self/clear_refs", "5");
    }

    /// <summary>Peak resident set size in MiB since the last reset, or NaN where /proc is not available.</summary>
    public static double MiB()
    {
        if (!File.Exists("/proc/self/status")) return double.NaN;
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}
