using Microsoft.ML.Ntk.Build;
using TorchSharp;

namespace Microsoft.ML.Ntk.Tests.Native;

public class TorchSharpLoaderTests
{
    [Fact]
    public void TorchSharpLoads()
    {
        TorchSharpLoader.EnsureLoaded();
        using var x = torch.ones(3);
        Assert.Equal(3.0f, x.sum().item<float>());
    }

    [LinuxFact]
    public void AnUnpatchedCopyIsExplainedByTheLoadersOwnReason()
    {
        TorchSharpLoader.EnsureLoaded(); // its dependencies are then found by soname in this process
        using var folder = new TemporaryFolder();
        string unpatched = Path.Combine(folder.Path, "libLibTorchSharp.so");
        byte[] strict = File.ReadAllBytes(NativeOutput.TorchSharpLibrary);
        ElfVersionNeeds.SetWeak(strict, TorchSharpLoadException.GlibcxxVersion, weak: false);
        File.WriteAllBytes(unpatched, strict);

        string? reason = TorchSharpLoader.DlopenError(unpatched);
        if (SystemLibstdcxxHasGlibcxx3432())
        {
            Assert.Null(reason); // a new enough system needs no fix
            return;
        }
        Assert.NotNull(reason);
        Assert.Contains(TorchSharpLoadException.GlibcxxVersion, reason);
        string missing = Path.Combine(folder.Path, "absent", "libLibTorchSharp.so");
        string message = TorchSharpLoader.Explain(new DllNotFoundException("TorchSharp's own text"), new[] { missing, unpatched });
        Assert.StartsWith("TorchSharp's native library " + unpatched + " could not be loaded: ", message);
        Assert.Contains(unpatched, message);
        Assert.Contains("GLIBCXX_3.4.32", message);
        Assert.Contains("Build or publish the application again", message);
        Assert.DoesNotContain("doesn't contain a reference", message);
    }

    [Fact]
    public void AMissingBackendIsExplainedWithThePackagesToReference()
    {
        string absent = Path.Combine(Path.GetTempPath(), "ntk-absent-" + Guid.NewGuid().ToString("N"), "libLibTorchSharp.so");
        string message = TorchSharpLoader.Explain(new DllNotFoundException("inner text"), new[] { absent });
        Assert.Contains(absent, message);
        Assert.Contains("not found", message);
        Assert.Contains("TorchSharp-cpu", message);
        Assert.Contains("inner text", message);
    }

    private static bool SystemLibstdcxxHasGlibcxx3432()
    {
        string[] candidates = { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" };
        string? path = candidates.FirstOrDefault(File.Exists);
        if (path is null) return false;
        string text = System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(path));
        return text.Contains("GLIBCXX_3.4.32", StringComparison.Ordinal);
    }
}
