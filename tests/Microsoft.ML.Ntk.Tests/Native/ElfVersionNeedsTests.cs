using Microsoft.ML.Ntk.Build;

namespace Microsoft.ML.Ntk.Tests.Native;

public class ElfVersionNeedsTests
{
    private const string Version = "GLIBCXX_3.4.32";

    [LinuxFact]
    public void BuildOutputCopyHasTheRequirementMarkedWeak()
    {
        var entries = ElfVersionNeeds.Read(File.ReadAllBytes(NativeOutput.TorchSharpLibrary));
        var entry = Assert.Single(entries, e => e.Version == Version);
        Assert.Equal("libstdc++.so.6", entry.Library);
        Assert.True(entry.IsWeak);
        // Only that requirement is touched: every other one stays strict.
        Assert.Contains(entries, e => e.Version == "GLIBCXX_3.4.19" && !e.IsWeak);
        Assert.All(entries.Where(e => e.Version != Version), e => Assert.False(e.IsWeak));
    }

    [LinuxFact]
    public void SetWeakChangesTwoBytesAndIsIdempotent()
    {
        byte[] original = File.ReadAllBytes(NativeOutput.TorchSharpLibrary);
        byte[] strict = (byte[])original.Clone();
        Assert.Equal(1, ElfVersionNeeds.SetWeak(strict, Version, weak: false));
        Assert.Equal(0, ElfVersionNeeds.SetWeak(strict, Version, weak: false));
        Assert.False(ElfVersionNeeds.Read(strict).Single(e => e.Version == Version).IsWeak);

        byte[] weak = (byte[])strict.Clone();
        Assert.Equal(1, ElfVersionNeeds.SetWeak(weak, Version, weak: true));
        Assert.Equal(0, ElfVersionNeeds.SetWeak(weak, Version, weak: true));
        Assert.Equal(original, weak);
        int differing = Enumerable.Range(0, strict.Length).Count(i => strict[i] != weak[i]);
        Assert.Equal(1, differing); // flag 2 lives in the low byte of vna_flags
    }

    [Fact]
    public void FilesThatAreNotElfAreLeftAlone()
    {
        byte[] text = System.Text.Encoding.ASCII.GetBytes(new string('x', 200));
        Assert.Empty(ElfVersionNeeds.Read(text));
        Assert.Equal(0, ElfVersionNeeds.SetWeak(text, Version, weak: true));
        Assert.Empty(ElfVersionNeeds.Read(Array.Empty<byte>()));
    }

    [LinuxFact]
    public void WeakenInPlaceNeverWritesThroughALink()
    {
        using var folder = new TemporaryFolder();
        string cacheCopy = Path.Combine(folder.Path, "cache.so");
        byte[] strict = File.ReadAllBytes(NativeOutput.TorchSharpLibrary);
        ElfVersionNeeds.SetWeak(strict, Version, weak: false);
        File.WriteAllBytes(cacheCopy, strict);
        string outputCopy = Path.Combine(folder.Path, "libLibTorchSharp.so");
        File.CreateSymbolicLink(outputCopy, cacheCopy);

        Assert.Equal(1, ElfVersionNeeds.WeakenInPlace(outputCopy, Version));

        Assert.Equal(strict, File.ReadAllBytes(cacheCopy));
        Assert.Null(new FileInfo(outputCopy).LinkTarget);
        Assert.True(ElfVersionNeeds.Read(File.ReadAllBytes(outputCopy)).Single(e => e.Version == Version).IsWeak);
        DateTime written = File.GetLastWriteTimeUtc(outputCopy);
        Assert.Equal(0, ElfVersionNeeds.WeakenInPlace(outputCopy, Version));
        Assert.Equal(written, File.GetLastWriteTimeUtc(outputCopy));
        Assert.Equal(2, Directory.GetFiles(folder.Path).Length); // no temporary left behind
    }
}
