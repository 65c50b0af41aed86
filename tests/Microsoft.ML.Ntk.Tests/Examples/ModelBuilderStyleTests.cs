using System.Diagnostics;
using Microsoft.ML.Ntk.Examples.ModelBuilderStyle;

namespace Microsoft.ML.Ntk.Tests.Examples;

/// <summary>
/// The Model Builder style example, built with the tests, runs as its own process (training file and pretrained network
/// generated, SensorModel.Train, SensorModel.Predict), and the .mlnet file it writes is consumed here through the generated
/// consumption code, whose prediction lies within its own 95 % interval of the sensor's noiseless reading.
/// </summary>
public class ModelBuilderStyleTests
{
    [Fact]
    public async Task TheExampleTrainsAModelThatItsConsumptionCodePredictsWith()
    {
        using var folder = new TemporaryFolder();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder.Path,
        };
        foreach (string argument in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "ModelBuilderStyle.dll"), folder.Path }) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await errors}");
        Assert.Contains("predicted reading", await output);

        SensorModel.MLNetModelPath = Path.Combine(folder.Path, "SensorModel.mlnet");
        var input = new SensorModel.ModelInput { Temperature = -1.1f, Humidity = 0.4f };
        var result = SensorModel.Predict(input);
        double truth = ReferenceSensor.Target(input.Temperature, input.Humidity);
        Assert.True(result.Variance > 0);
        Assert.True(Math.Abs(result.Score - truth) < 1.96 * Math.Sqrt(result.Variance),
                    $"predicted {result.Score:F3} ± {1.96 * Math.Sqrt(result.Variance):F3}, noiseless reading {truth:F3}");
    }
}
