using BenchmarkDotNet.Attributes;
using TorchSharp;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// Serving throughput: 200 rows predicted through ML.NET PredictionEngines of one loaded small-CNN model (SmallCnnModel), by one
/// thread (the baseline) or split over two threads with an engine each, libtorch's intra-op threads set to 1 (what the README
/// recommends for serving: the parallelism comes from the requests). A ratio of 0.5 would be a perfect 2× throughput.
/// </summary>
[Config(typeof(ProductsConfig))]
public class ParallelPredictionBenchmarks
{
    private const int Rows = 200;
    private SmallCnnModel fitted = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        fitted = SmallCnnModel.Fit();
        fitted.Engine().Predict(fitted.MlRow);
        torch.set_num_threads(1);
    }

    [Benchmark(Baseline = true, Description = "200 predictions, 1 thread")]
    public void OneThread() => Predict(fitted.Engine(), 0, Rows);

    [Benchmark(Description = "200 predictions, 2 threads (an engine each)")]
    public void TwoThreads() =>
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t => Predict(fitted.Engine(), t * Rows / 2, Rows / 2));

    private void Predict(PredictionEngine<SmallCnnModel.ImageRow, SmallCnnModel.ImageScore> engine, int start, int count)
    {
        for (int i = 0; i < count; i++) engine.Predict(fitted.MlRows[(start + i) % fitted.MlRows.Length]);
    }
}
