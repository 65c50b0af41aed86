using System.Runtime.InteropServices;

namespace Microsoft.ML.Ntk;

/// <summary>
/// libtorch's CPU build does its matrix products with Intel MKL, which by default picks code paths by the alignment of
/// each buffer: the same product on the same machine can then differ in the last bit from one call to the next, and a
/// model would not predict bit-identically before and after saving. MKL's conditional numerical reproducibility
/// (MKL_CBWR=AUTO,STRICT: the fastest code path of this processor, independent of alignment) removes that. It is
/// requested in the process environment before libtorch first runs, unless the application has set MKL_CBWR itself.
/// </summary>
internal static class ReproducibleArithmetic
{
    public const string Variable = "MKL_CBWR";
    public const string Setting = "AUTO,STRICT";

    public static void Request()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) return;
        Environment.SetEnvironmentVariable(Variable, Setting);
        // .NET keeps its own copy of the environment on Unix; native code reads the C library's.
        if (!OperatingSystem.IsWindows()) _ = setenv(Variable, Setting, overwrite: 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
