namespace Microsoft.ML.Ntk;

/// <summary>TorchSharp's native library could not be loaded; the message gives the real cause and the fix.</summary>
public sealed class TorchSharpLoadException : Exception
{
    internal const string GlibcxxVersion = "GLIBCXX_3.4.32";

    internal TorchSharpLoadException(string message, Exception inner) : base(message, inner) { }

    internal static string NoBackendMessage(IEnumerable<string> searched, string torchSharpMessage) =>
        "TorchSharp's native library was not found (looked for " + string.Join(", ", searched) + "). " +
        "Fix: reference a TorchSharp backend package from the application, for example TorchSharp-cpu " +
        "(or TorchSharp-cuda-linux / TorchSharp-cuda-windows for a GPU), and build it again. " +
        "TorchSharp said: " + torchSharpMessage;

    internal static string CannotLoadMessage(string path, string reason)
    {
        string fix = reason.Contains(GlibcxxVersion, StringComparison.Ordinal)
            ? "Fix: the system libstdc++ is older than the one TorchSharp was built with. Microsoft.ML.Ntk's " +
              "build step marks that requirement weak in the build output; it has not run on this copy. " +
              "Build or publish the application again with Microsoft.ML.Ntk referenced (and without " +
              "NtkSkipNativeFix=true), or install libstdc++ from GCC 13 or newer."
            : "Fix: make sure the TorchSharp backend package matches TorchSharp's version and that all of " +
              "its native files were copied next to this library.";
        return "TorchSharp's native library " + path + " could not be loaded: " + reason + " " + fix;
    }
}
