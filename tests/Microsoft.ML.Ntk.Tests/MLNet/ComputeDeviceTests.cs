using Microsoft.ML.Ntk.MLNet;
using TorchSharp;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>
/// MLContext.GpuDeviceId and FallbackToCpu, as ML.NET's own TorchSharp trainers read them. No CUDA backend of TorchSharp
/// exists where these tests run, so only the CPU, the fallback and the error are exercised; the CUDA path itself is not.
/// </summary>
public class ComputeDeviceTests
{
    [Fact]
    public void TheDecisionFollowsTheSettings()
    {
        var warnings = new List<string>();
        Assert.Equal(DeviceType.CPU, ComputeDevice.Resolve(null, fallbackToCpu: false, cudaDevices: 0, warnings.Add).type);
        var cuda = ComputeDevice.Resolve(1, fallbackToCpu: false, cudaDevices: 2, warnings.Add);
        Assert.Equal((DeviceType.CUDA, 1), (cuda.type, (int)cuda.index));
        Assert.Empty(warnings);

        Assert.Equal(DeviceType.CPU, ComputeDevice.Resolve(0, fallbackToCpu: true, cudaDevices: 0, warnings.Add).type);
        Assert.Contains("runs on the CPU", Assert.Single(warnings));
        var missing = Assert.Throws<InvalidOperationException>(() => ComputeDevice.Resolve(0, fallbackToCpu: false, cudaDevices: 0, warnings.Add));
        Assert.Contains("GpuDeviceId is 0", missing.Message);
        Assert.Contains("TorchSharp-cuda", missing.Message);
        Assert.Contains("FallbackToCpu is false", missing.Message);
        var outOfRange = Assert.Throws<InvalidOperationException>(() => ComputeDevice.Resolve(3, fallbackToCpu: false, cudaDevices: 2, warnings.Add));
        Assert.Contains("2 CUDA device(s), numbered 0 to 1", outOfRange.Message);
    }

    [Fact]
    public void AGpuIdWithoutCudaFallsBackWithAWarningOrFailsClearly()
    {
        using var folder = new TemporaryFolder();
        var network = NtkTestData.Mlp(folder, outputs: 1);
        var fallback = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var log = new List<string>();
        fallback.Log += (_, e) => log.Add(e.Message);
        var train = fallback.Data.LoadFromEnumerable(NtkTestData.Regression(20, 2));
        var model = fallback.Regression.Trainers.Ntk(network).Fit(train);
        Assert.Equal(20, fallback.Data.CreateEnumerable<RegressionScore>(model.Transform(train), false).Count());
        Assert.Contains(log, m => m.Contains("GpuDeviceId is 0") && m.Contains("runs on the CPU"));

        var strict = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var error = Assert.Throws<InvalidOperationException>(() => strict.Regression.Trainers.Ntk(network).Fit(strict.Data.LoadFromEnumerable(NtkTestData.Regression(20, 2))));
        Assert.Contains("FallbackToCpu is false", error.Message);
    }
}
