using System.Diagnostics;

namespace Microsoft.ML.Ntk.Tests;

/// <summary>Runs a program built with the tests (`dotnet exec` of its dll in the test output folder) as a child process.</summary>
internal static class ChildProcess
{
    /// <summary>Its standard output, after asserting that it exited with 0 (the message holds both streams otherwise).</summary>
    public static async Task<string> Run(string dll, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (string argument in new[] { "exec", Path.Combine(AppContext.BaseDirectory, dll) }.Concat(arguments)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        Assert.True(process.ExitCode == 0, $"{dll} ended with exit code {process.ExitCode}: {await output} {await errors}");
        return await output;
    }
}
