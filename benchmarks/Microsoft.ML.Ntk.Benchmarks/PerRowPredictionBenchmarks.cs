using BenchmarkDotNet.Attributes;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// One prediction of one row on the small CNN of ImageAdaptationBenchmarks (3×16×16, 5 classes, P = 5,349; softmax
/// posterior from 250 images, s² given), against the baseline of one forward and C = 5 backward passes of a single input
/// through the same float64 network (what an explicit Jacobian row block costs with autograd). Rows: the inference
/// layer's Predict on one row, and ML.NET's PredictionEngine on the fitted model (its mapping adds the row's conversion).
/// </summary>
[Config(typeof(ProductsConfig))]
public class PerRowPredictionBenchmarks
{
    private const int Classes = 5;
    private nn.Module<Tensor, Tensor> module = null!;
    private ClassificationPosterior posterior = null!;
    private Tensor row = null!;
    private PredictionEngine<ImageRow, ImageScore> engine = null!;
    private ImageRow mlRow = null!;

    public sealed class ImageRow
    {
        [VectorType(3 * 16 * 16)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Class { get; set; } = "";
    }

    public sealed class ImageScore
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        var architecture = NetworkArchitecture.SmallCnn(3, 16, 16, Classes);
        var source = architecture.CreateModule();
        string path = Path.Combine(Path.GetTempPath(), $"ntk-bench-cnn-{Environment.ProcessId}.bin");
        source.save(path);
        module = architecture.CreateModule();
        module.load(path);
        module.to(ScalarType.Float64);
        module.eval();
        Tensor x = rand(250, 3, 16, 16, dtype: ScalarType.Float64), y = randint(0, Classes, 250, dtype: ScalarType.Int64);
        posterior = GaussianProcessClassification.Fit(new LinearizedNetwork(module, ParameterSelection.All), x, y, new ClassificationSettings(PriorVariance: 1e-2));
        row = rand(1, 3, 16, 16, dtype: ScalarType.Float64);
        posterior.Predict(row);                                          // builds the projected training Jacobian once

        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 250).Select(i => new ImageRow
        {
            Features = x[i].to(ScalarType.Float32).reshape(-1).data<float>().ToArray(), Class = "c" + y[i].item<long>(),
        }).ToArray();
        var view = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options
            {
                Network = PretrainedNetwork.FromArchitecture(architecture, path), PriorVariance = 1e-2,
            })).Fit(view);
        engine = ml.Model.CreatePredictionEngine<ImageRow, ImageScore>(model);
        mlRow = rows[0];
        engine.Predict(mlRow);
    }

    [Benchmark(Baseline = true, Description = "one forward + 5 backward passes, one input (autograd)")]
    public void ForwardAndBackwards()
    {
        using var scope = NewDisposeScope();
        var parameters = module.parameters().ToArray();
        Tensor output = module.call(row);
        for (int c = 0; c < Classes; c++)
            torch.autograd.grad(new[] { output[0, c] }, parameters, retain_graph: c < Classes - 1);
    }

    [Benchmark(Description = "Ntk prediction of one row (inference layer: probabilities and variances)")]
    public void Predict()
    {
        using var scope = NewDisposeScope();
        posterior.Predict(row);
    }

    [Benchmark(Description = "Ntk prediction of one row (ML.NET PredictionEngine)")]
    public void PredictionEngine() => engine.Predict(mlRow);
}
