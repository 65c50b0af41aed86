using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Loads TorchSharp's native backend once per process, or explains why it cannot.
/// Every entry point of the library calls <see cref="EnsureLoaded"/> before it touches a tensor.
/// </summary>
public static class TorchSharpLoader
{
    private static readonly Lazy<Exception?> LoadFailure = new(TryLoad, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Makes sure TorchSharp's native library is loaded. Throws <see cref="TorchSharpLoadException"/>, whose
    /// message gives the operating system's own reason and the fix, when it cannot be loaded.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (LoadFailure.Value is { } failure)
            throw new TorchSharpLoadException(Explain(failure, NativeLibraryCandidates().ToList()), failure);
    }

    private static Exception? TryLoad()
    {
        try
        {
            ReproducibleArithmetic.Request();
            torch.InitializeDeviceType(DeviceType.CPU);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    /// <summary>The message for a failed load: the loader's own reason for the first native file that exists.</summary>
    internal static string Explain(Exception failure, IReadOnlyList<string> candidates)
    {
        var existing = candidates.Where(File.Exists).ToList();
        if (existing.Count == 0)
            return TorchSharpLoadException.NoBackendMessage(candidates, failure.Message);
        string reason = DlopenError(existing[0]) ?? failure.Message;
        return TorchSharpLoadException.CannotLoadMessage(existing[0], reason);
    }

    /// <summary>Where the .NET host looks for libLibTorchSharp first: next to TorchSharp.dll, then under runtimes/RID/native.</summary>
    internal static IEnumerable<string> NativeLibraryCandidates()
    {
        string directory = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
        string file = NativeFileName();
        yield return Path.Combine(directory, file);
        yield return Path.Combine(directory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", file);
        string portableRid = PortableRuntimeIdentifier();
        if (portableRid != RuntimeInformation.RuntimeIdentifier)
            yield return Path.Combine(directory, "runtimes", portableRid, "native", file);
    }

    /// <summary>The operating system's reason for refusing to load <paramref name="path"/>, or null if it loads.</summary>
    internal static string? DlopenError(string path)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            // .NET puts advice about strace and LD_DEBUG first; the loader's own words come last.
            string[] lines = ex.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return lines.Length > 1 ? lines[^1] : ex.Message;
        }
    }

    private static string NativeFileName() =>
        OperatingSystem.IsWindows() ? "LibTorchSharp.dll"
        : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib"
        : "libLibTorchSharp.so";

    private static string PortableRuntimeIdentifier()
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return os + "-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
    }
}
