using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>The trainer behind ML.NET's image transforms (LoadImages, ResizeImages, ExtractPixels), with per-channel normalization.</summary>
public class ImagePipelineTests : IDisposable
{
    private const int Size = 12;
    private readonly TemporaryFolder folder = new();
    private readonly MLContext ml = new(seed: 1);

    public void Dispose() => folder.Dispose();

    private sealed class ImageRow
    {
        public string Path { get; set; } = "";
        public string Shape { get; set; } = "";
    }

    private sealed class ImageScore
    {
        [VectorType(3)]
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <summary>Red squares, green discs and blue bars at random places, written as PNG files.</summary>
    private ImageRow[] DrawImages(int count, int seed)
    {
        var random = new Random(seed);
        string[] shapes = { "square", "disc", "bar" };
        return Enumerable.Range(0, count).Select(i =>
        {
            int kind = i % 3;
            using var bitmap = new SKBitmap(20, 20);
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(new SKColor((byte)random.Next(60), (byte)random.Next(60), (byte)random.Next(60)));
                using var paint = new SKPaint { Color = kind switch { 0 => SKColors.Red, 1 => SKColors.Lime, _ => SKColors.Blue }, IsAntialias = true };
                float x = random.Next(3, 10), y = random.Next(3, 10);
                if (kind == 0) canvas.DrawRect(x, y, 8, 8, paint);
                else if (kind == 1) canvas.DrawCircle(x + 4, y + 4, 4, paint);
                else canvas.DrawRect(x, 2, 3, 16, paint);
            }
            string path = System.IO.Path.Combine(folder.Path, $"{seed}-{i}.png");
            using (var file = File.OpenWrite(path)) bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
            return new ImageRow { Path = path, Shape = shapes[kind] };
        }).ToArray();
    }

    private PretrainedNetwork Cnn()
    {
        var architecture = NetworkArchitecture.SmallCnn(3, Size, Size, 3);
        manual_seed(5);
        string path = System.IO.Path.Combine(folder.Path, "cnn.bin");
        architecture.Build().save(path);
        return PretrainedNetwork.FromArchitecture(architecture, path);
    }

    private IEstimator<ITransformer> Pipeline(NtkMulticlassTrainer.Options options, float offset, float scale) =>
        ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageRow.Shape))
            .Append(ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.Path)))
            .Append(ml.Transforms.ResizeImages("Image", Size, Size))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", interleavePixelColors: false, offsetImage: offset, scaleImage: scale))
            .Append(ml.MulticlassClassification.Trainers.Ntk(options));

    [Fact]
    public void ImagesFromImageAnalyticsTrainAndPredictWithPerChannelNormalization()
    {
        var network = Cnn();
        var train = ml.Data.LoadFromEnumerable(DrawImages(30, seed: 1));
        var test = ml.Data.LoadFromEnumerable(DrawImages(12, seed: 2));
        var ours = new NtkMulticlassTrainer.Options
        {
            Network = network, PriorVariance = 1, ChannelMeans = new[] { 0.5f, 0.5f, 0.5f }, ChannelStandardDeviations = new[] { 0.25f, 0.25f, 0.25f },
        };
        var model = Pipeline(ours, offset: 0, scale: 1 / 255f).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.MacroAccuracy > 0.6, $"macro accuracy {metrics.MacroAccuracy:F3}");

        // Equal means and deviations across channels are what ExtractPixels' own offset and scale can do: same predictions.
        var theirs = new NtkMulticlassTrainer.Options { Network = network, PriorVariance = 1 };
        var reference = Pipeline(theirs, offset: 0.5f * 255, scale: 1 / (0.25f * 255)).Fit(train);
        var a = ml.Data.CreateEnumerable<ImageScore>(model.Transform(test), false).SelectMany(s => s.Score).ToArray();
        var b = ml.Data.CreateEnumerable<ImageScore>(reference.Transform(test), false).SelectMany(s => s.Score).ToArray();
        Tolerances.AssertClose(tensor(a), tensor(b), Tolerances.Float32, "normalized in the trainer vs in ExtractPixels");
    }

    [Fact]
    public void ChannelNormalizationUsesTheFirstAxisOfTheInputShape()
    {
        var layout = new InputLayout(new long[] { 2, 1, 3 }, new[] { 1f, 10f }, new[] { 2f, 4f });
        float[] values = { 1, 3, 5, 10, 14, 18, 3, 3, 3, 2, 6, 10 };   // two inputs, channel-major
        Tensor x = layout.ToInputs(values, 2);
        Assert.Equal(new long[] { 2, 2, 1, 3 }, x.shape);
        double[] expected = { 0, 1, 2, 0, 1, 2, 1, 1, 1, -2, -1, 0 };
        Assert.Equal(expected, x.reshape(-1).data<double>().ToArray());
    }
}
