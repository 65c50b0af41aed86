using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The MLContext's environment behind a trainer catalog, so that our log reaches mlContext.Log. ML.NET keeps it behind an
/// internal interface (IInternalCatalog.Environment), so it is read by reflection; if a future ML.NET renames it, the
/// trainers still work and only their log is lost. The environment's own settings (GpuDeviceId, FallbackToCpu, IsCanceled)
/// are behind internal interfaces too, and are read here the same way.
/// </summary>
internal static class CatalogEnvironment
{
    public static IHostEnvironment? Of(object catalog)
    {
        var internalCatalog = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.FullName == "Microsoft.ML.Data.IInternalCatalog");
        var property = internalCatalog?.GetProperty("Environment", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        return property?.GetValue(catalog) as IHostEnvironment;
    }

    /// <summary>A property of the environment by name, public or behind one of its interfaces; null when it has none.</summary>
    public static object? Setting(object environment, string name)
    {
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var type = environment.GetType();
        var property = type.GetProperty(name, flags) ??
                       type.GetInterfaces().Select(i => i.GetProperty(name, flags)).FirstOrDefault(p => p is not null);
        return property?.GetValue(environment);
    }
}
