// libtorch's random generator and thread pool are process-wide: tests that seed it must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Microsoft.ML.Ntk.Tests;

internal static class TestAssemblyStart
{
    /// <summary>
    /// The library's loader runs before any test touches libtorch, as an application's first call into the library would:
    /// it asks MKL for reproducible arithmetic (MKL_CBWR) before the first matrix product, which bit-identity tests need.
    /// </summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void LoadTorchSharp() => TorchSharpLoader.EnsureLoaded();
}
