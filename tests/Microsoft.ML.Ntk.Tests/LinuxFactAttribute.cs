namespace Microsoft.ML.Ntk.Tests;

/// <summary>A fact about Linux ELF files and the Linux loader; reported as skipped on other systems.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "Linux only: it inspects ELF files and the Linux loader.";
    }
}
