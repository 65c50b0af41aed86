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
    private const int Classes = SmallCnnModel.Classes;
    private nn.Module<Tensor, Tensor> module = null!;
    private ClassificationPosterior posterior = null!;
    private Tensor row = null!;
    private PredictionEngine<SmallCnnModel.ImageRow, SmallCnnModel.ImageScore> engine = null!;
    private SmallCnnModel.ImageRow mlRow = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        var fitted = SmallCnnModel.Fit();
        (module, posterior, row, mlRow) = (fitted.Module, fitted.Posterior, fitted.Row, fitted.MlRow);
        engine = fitted.Engine();
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
