using BenchmarkDotNet.Attributes;
using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// Predicting a whole IDataView (1,000 rows, the Score column read to the end) with the small-CNN model of SmallCnnModel:
/// a loaded model, whose ML.NET transforms predict one row at a time (the baseline), against the fitted model's own
/// Transform, which predicts 256 rows at a time.
/// </summary>
[Config(typeof(AdaptationConfig))]
public class TransformBenchmarks
{
    private const int Rows = 1000;
    private SmallCnnModel fitted = null!;
    private ITransformer loaded = null!;
    private IDataView data = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        fitted = SmallCnnModel.Fit();
        string path = Path.Combine(Path.GetTempPath(), $"ntk-bench-transform-{Environment.ProcessId}.zip");
        var ml = fitted.Context;
        data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, Rows).Select(i => fitted.MlRows[i % fitted.MlRows.Length]).ToArray());
        ml.Model.Save(fitted.Model, data.Schema, path);
        loaded = new MLContext().Model.Load(path, out _);
        Consume(loaded.Transform(data));
        Consume(fitted.Model.Transform(data));
    }

    [Benchmark(Baseline = true, Description = "1,000 rows, loaded model (ML.NET's row-by-row mapping)")]
    public float RowByRow() => Consume(loaded.Transform(data));

    [Benchmark(Description = "1,000 rows, fitted model's Transform (batched, 256 rows)")]
    public float Batched() => Consume(fitted.Model.Transform(data));

    private static float Consume(IDataView view) => view.GetColumn<VBuffer<float>>("Score").Sum(s => s.GetValues()[0]);
}
