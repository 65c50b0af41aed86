namespace Microsoft.ML.Ntk.Tests.Native;

/// <summary>The copy of libLibTorchSharp.so that this test run loads (the build output's copy).</summary>
internal static class NativeOutput
{
    public static string TorchSharpLibrary =>
        TorchSharpLoader.NativeLibraryCandidates().FirstOrDefault(File.Exists)
        ?? throw new FileNotFoundException("No libLibTorchSharp.so in the test output: " +
                                           string.Join(", ", TorchSharpLoader.NativeLibraryCandidates()));
}
