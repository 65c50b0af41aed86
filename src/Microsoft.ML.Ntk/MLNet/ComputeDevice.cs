using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// Where a fit runs, by the convention of ML.NET's own TorchSharp and image trainers: MLContext.GpuDeviceId null means the
/// CPU; a GPU id means that CUDA device, when TorchSharp has a CUDA backend and the device exists; otherwise
/// MLContext.FallbackToCpu decides between a warning and the CPU (true) or an error that says what is missing (false).
/// ML.NET keeps both settings behind an internal interface of the environment, so they are read by reflection (as the
/// environment itself is, see <see cref="CatalogEnvironment"/>); if that fails the CPU is used.
/// </summary>
internal static class ComputeDevice
{
    /// <summary>The device for a fit in this environment; warnings go to <paramref name="warn"/>.</summary>
    public static Device Resolve(IHostEnvironment? environment, Action<string> warn)
    {
        var (gpu, fallback) = Settings(environment);
        bool available = gpu is not null && cuda.is_available();
        return Resolve(gpu, fallback, available ? cuda.device_count() : 0, warn);
    }

    /// <summary>The decision itself, given the settings and the number of CUDA devices TorchSharp sees (0 without a CUDA backend).</summary>
    public static Device Resolve(int? gpuDeviceId, bool fallbackToCpu, int cudaDevices, Action<string> warn)
    {
        if (gpuDeviceId is not { } id) return CPU;
        if (id >= 0 && id < cudaDevices) return new Device(DeviceType.CUDA, id);
        string missing = cudaDevices == 0
            ? "TorchSharp has no CUDA device here (the application references TorchSharp-cpu, or no CUDA driver is installed; a CUDA " +
              "backend package of TorchSharp 0.107, such as TorchSharp-cuda-linux or TorchSharp-cuda-windows, and a CUDA driver are needed)"
            : $"TorchSharp sees {cudaDevices} CUDA device(s), numbered 0 to {cudaDevices - 1}";
        if (!fallbackToCpu)
            throw new InvalidOperationException($"MLContext.GpuDeviceId is {id}, but {missing}, and MLContext.FallbackToCpu is false. " +
                                                "Set GpuDeviceId to null for the CPU, or FallbackToCpu to true to fall back to it.");
        warn($"MLContext.GpuDeviceId is {id}, but {missing}: the Ntk trainer runs on the CPU (MLContext.FallbackToCpu is true).");
        return CPU;
    }

    private static (int? GpuDeviceId, bool FallbackToCpu) Settings(IHostEnvironment? environment)
    {
        if (environment is null) return (null, true);
        object? gpu = CatalogEnvironment.Setting(environment, "GpuDeviceId"), fallback = CatalogEnvironment.Setting(environment, "FallbackToCpu");
        return (gpu as int?, fallback as bool? ?? true);
    }
}
