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
        string output = await ChildProcess.Run("ModelBuilderStyle.dll", new[] { folder.Path }, workingDirectory: folder.Path);
        Assert.Contains("predicted reading", output);

        SensorModel.MLNetModelPath = Path.Combine(folder.Path, "SensorModel.mlnet");
        var input = new SensorModel.ModelInput { Temperature = -1.1f, Humidity = 0.4f };
        var result = SensorModel.Predict(input);
        double truth = ReferenceSensor.Target(input.Temperature, input.Humidity);
        Assert.True(result.Variance > 0);
        Assert.True(Math.Abs(result.Score - truth) < 1.96 * Math.Sqrt(result.Variance),
                    $"predicted {result.Score:F3} ± {1.96 * Math.Sqrt(result.Variance):F3}, noiseless reading {truth:F3}");
    }
}
