namespace Microsoft.ML.Ntk.Examples;

/// <summary>Shows what a long run is doing: one line per stage of an Ntk fit, and timed messages.</summary>
public sealed class ConsoleProgress : IProgress<NtkProgress>, IProgress<string>
{
    private readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    private NtkFitStage? last;

    /// <summary>Prints the first report of each stage of a fit (the steps within a stage would flood the console).</summary>
    public void Report(NtkProgress value)
    {
        if (value.Stage == last) return;
        last = value.Stage;
        Console.WriteLine($"  [{clock.Elapsed.TotalSeconds,6:F1} s] {value.Stage}: {value.Message}");
    }

    public void Report(string value) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1} s] {value}");
}
