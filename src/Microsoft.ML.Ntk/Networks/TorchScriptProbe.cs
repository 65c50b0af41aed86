using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>
/// Loads a TorchScript archive in a child process before this process does. Some damage (code that calls an operator
/// libtorch does not have) makes libtorch's loader throw an exception that TorchSharp does not catch, which ends the
/// process; no check of the archive's text can tell such code from valid code, so it is tried where ending is harmless.
/// The child is this application itself, started again with this library as a .NET startup hook
/// (<c>DOTNET_STARTUP_HOOKS</c>): the hook runs before the application's Main, loads the file, reports and exits, so the
/// child has the application's own runtime, dependencies and native libraries. An archive that ends the child is refused
/// with a managed error; one that loads is not probed again in this process. Where no child can be started (not Linux,
/// startup hooks disabled by trimming, the variable <see cref="DisableVariable"/> set), the archive is loaded directly, as
/// before; so does a child that ends otherwise than by libtorch's abort or a crash (killed for memory, say). Costs one
/// process start (about a second) per distinct archive.
/// </summary>
internal static class TorchScriptProbe
{
    /// <summary>Set in the child: the archive to load.</summary>
    public const string FileVariable = "MICROSOFT_ML_NTK_TORCHSCRIPT_PROBE";

    /// <summary>Set to 1 to skip the child process (archives are then loaded directly).</summary>
    public const string DisableVariable = "MICROSOFT_ML_NTK_NO_TORCHSCRIPT_PROBE";

    private const string Started = "ntk-torchscript-probe: loading";
    private const string Loaded = "ntk-torchscript-probe: loaded";
    private const int ManagedError = 3, AbortExit = 128 + 6, CrashExit = 128 + 11;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);
    private static readonly ConcurrentDictionary<string, bool> Loadable = new();

    /// <summary>Throws InvalidDataException, naming <paramref name="what"/>, when loading the archive ends a child process.</summary>
    public static void Check(string path, string what)
    {
        if (Environment.GetEnvironmentVariable(FileVariable) is not null || Environment.GetEnvironmentVariable(DisableVariable) == "1") return;
        if (!CanRestartWithHook() || OwnCommandLine() is not { } command) return;
        string key;
        using (var file = File.OpenRead(path)) key = Convert.ToHexString(SHA256.HashData(file));
        if (Loadable.ContainsKey(key)) return;
        var (exitCode, output, errors) = Run(command, Path.GetFullPath(path));
        if (!output.Contains(Started, StringComparison.Ordinal)) return;           // no child ran here: load directly
        if (exitCode == 0 && output.Contains(Loaded, StringComparison.Ordinal))
        {
            Loadable[key] = true;
            return;
        }
        // Only what libtorch's loader does to a process it cannot survive (abort, 134; a crash, 139) says "damaged"; a managed
        // error (3) is reported by this process's own load, and anything else (killed for memory, 137) decides nothing.
        if (exitCode is not (AbortExit or CrashExit)) return;
        throw new InvalidDataException($"{what} is damaged: libtorch's TorchScript loader ended a test process that loaded it " +
                                       $"(exit code {exitCode}{Reason(errors)}). This process did not load it.");
    }

    /// <summary>libtorch's message: the first lines after "what():" in what the child wrote before it ended, or nothing.</summary>
    private static string Reason(string errors)
    {
        var lines = errors.Split('\n').Select(l => l.Trim()).ToList();
        int what = lines.FindIndex(l => l.StartsWith("what():", StringComparison.Ordinal));
        if (what < 0) return "";
        string message = string.Join(" ", lines.Skip(what).Select(l => l.Replace("what():", "").Trim()).Where(l => l.Length > 0).Take(1));
        return message.Length > 0 ? $": {message}" : "";
    }

    /// <summary>The startup hook's work in the child: load the archive named by <see cref="FileVariable"/>, report, exit.</summary>
    internal static void RunIfAsked()
    {
        string? path = Environment.GetEnvironmentVariable(FileVariable);
        if (path is null) return;
        Console.Out.WriteLine(Started);
        Console.Out.Flush();
        try
        {
            TorchSharpLoader.EnsureLoaded();
            using var module = jit.load<Tensor, Tensor>(path);
            Console.Out.WriteLine(Loaded);
            Console.Out.Flush();
            Environment.Exit(0);
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex.Message);
            Environment.Exit(ManagedError);
        }
    }

    /// <summary>
    /// Whether a restarted application would run the hook before its Main: a managed entry point (not a native host such as
    /// Python's), startup hooks not switched off (trimming), and this library on disk (not bundled in a single file).
    /// </summary>
    private static bool CanRestartWithHook() =>
        System.Reflection.Assembly.GetEntryAssembly() is not null && Environment.ProcessPath is not null &&
        !(AppContext.TryGetSwitch("System.StartupHookProvider.IsSupported", out bool supported) && !supported) &&
        !string.IsNullOrEmpty(typeof(TorchScriptProbe).Assembly.Location);

    private static (int ExitCode, string Output, string Errors) Run(string[] command, string path)
    {
        // The executable by its full path (argv[0] may be relative, or found on a PATH), the arguments as they were.
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in command.Skip(1)) start.ArgumentList.Add(argument);
        string hook = typeof(TorchScriptProbe).Assembly.Location;
        string? hooks = Environment.GetEnvironmentVariable("DOTNET_STARTUP_HOOKS");
        start.Environment["DOTNET_STARTUP_HOOKS"] = string.IsNullOrEmpty(hooks) ? hook : $"{hook}{Path.PathSeparator}{hooks}";
        start.Environment[FileVariable] = path;
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, "", "");                                                   // no child: treated as no probe
        }
        if (process is null) return (-1, "", "");
        using var started = process;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "", "");                                                   // undecided: treated as no child
        }
        return (process.ExitCode, output.Result, errors.Result);
    }

    /// <summary>This process's own command line (Linux: /proc/self/cmdline), or null where it cannot be read.</summary>
    private static string[]? OwnCommandLine()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            string[] parts = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            return parts.Length == 0 ? null : parts;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
