using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The MLContext's environment behind a trainer catalog, so that our log reaches mlContext.Log. ML.NET keeps it behind an
/// internal interface (IInternalCatalog.Environment), so it is read by reflection; if a future ML.NET renames it, the
/// trainers still work and only their log is lost.
/// </summary>
internal static class CatalogEnvironment
{
    public static IHostEnvironment? Of(object catalog)
    {
        var internalCatalog = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.FullName == "Microsoft.ML.Data.IInternalCatalog");
        var property = internalCatalog?.GetProperty("Environment", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        return property?.GetValue(catalog) as IHostEnvironment;
    }
}
