using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public class PipelineTests
{
    private sealed class Row
    {
        public float A { get; set; }
        public float B { get; set; }
    }

    private sealed class Output
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void AnMLContextPipelineWithATrivialTransformRuns()
    {
        var context = new MLContext(seed: 1);
        var data = context.Data.LoadFromEnumerable(new[]
        {
            new Row { A = 1, B = 10 }, new Row { A = 3, B = 20 }, new Row { A = 5, B = 40 },
        });
        var pipeline = context.Transforms.Concatenate("Features", nameof(Row.A), nameof(Row.B))
            .Append(context.Transforms.NormalizeMinMax("Features", fixZero: false));
        var rows = context.Data.CreateEnumerable<Output>(pipeline.Fit(data).Transform(data), reuseRowObject: false).ToList();

        Assert.Equal(new[] { 0f, 0f }, rows[0].Features);
        Assert.Equal(new[] { 0.5f, 1f / 3f }, rows[1].Features);
        Assert.Equal(new[] { 1f, 1f }, rows[2].Features);
    }
}
