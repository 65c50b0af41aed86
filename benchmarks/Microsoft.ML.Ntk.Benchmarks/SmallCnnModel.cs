using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// The prediction benchmarks' model: the small CNN (3×16×16, 5 classes, P = 5,349, seeded random weights) with a softmax
/// posterior from 250 random images (s² = 1e-2 given), as an inference-layer posterior and as a fitted ML.NET model.
/// </summary>
internal sealed class SmallCnnModel
{
    public const int Classes = 5;

    public sealed class ImageRow
    {
        [VectorType(3 * 16 * 16)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Class { get; set; } = "";
    }

    public sealed class ImageScore
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    public required nn.Module<Tensor, Tensor> Module { get; init; }
    public required ClassificationPosterior Posterior { get; init; }
    public required Tensor Row { get; init; }
    public required ImageRow MlRow { get; init; }
    public required ImageRow[] MlRows { get; init; }
    public required MLContext Context { get; init; }
    public required ITransformer Model { get; init; }

    public PredictionEngine<ImageRow, ImageScore> Engine() => Context.Model.CreatePredictionEngine<ImageRow, ImageScore>(Model);

    public static SmallCnnModel Fit()
    {
        manual_seed(0);
        var architecture = NetworkArchitecture.SmallCnn(3, 16, 16, Classes);
        string path = Path.Combine(Path.GetTempPath(), $"ntk-bench-cnn-{Environment.ProcessId}.bin");
        architecture.CreateModule().save(path);
        var module = architecture.CreateModule();
        module.load(path);
        module.to(ScalarType.Float64);
        module.eval();
        Tensor x = rand(250, 3, 16, 16, dtype: ScalarType.Float64), y = randint(0, Classes, 250, dtype: ScalarType.Int64);
        var posterior = GaussianProcessClassification.Fit(new LinearizedNetwork(module, ParameterSelection.All), x, y, new ClassificationSettings(PriorVariance: 1e-2));
        Tensor row = rand(1, 3, 16, 16, dtype: ScalarType.Float64);
        posterior.Predict(row);                                          // builds the projected training Jacobian once

        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 250).Select(i => new ImageRow
        {
            Features = x[i].to(ScalarType.Float32).reshape(-1).data<float>().ToArray(), Class = "c" + y[i].item<long>(),
        }).ToArray();
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options
            {
                Network = PretrainedNetwork.FromArchitecture(architecture, path), PriorVariance = 1e-2,
            })).Fit(ml.Data.LoadFromEnumerable(rows));
        return new SmallCnnModel { Module = module, Posterior = posterior, Row = row, MlRow = rows[0], MlRows = rows, Context = ml, Model = model };
    }
}
