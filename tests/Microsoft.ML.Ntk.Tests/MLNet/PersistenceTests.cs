using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public class PersistenceTests
{
    private sealed class Raw
    {
        public float A { get; set; }
        public float B { get; set; }
        public float Label { get; set; }
    }

    private static IDataView RawData(MLContext ml, int count, int seed) =>
        ml.Data.LoadFromEnumerable(NtkTestData.Regression(count, seed).Select(r => new Raw { A = r.Features[0], B = r.Features[1], Label = r.Label }));

    /// <summary>Concatenate and NormalizeMinMax in front of the trainer, as a user would write it.</summary>
    private static ITransformer FitPipeline(MLContext ml, PretrainedNetwork network, IDataView train) =>
        ml.Transforms.Concatenate("Features", nameof(Raw.A), nameof(Raw.B))
            .Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.Regression.Trainers.Ntk(network))
            .Fit(train);

    private static RegressionScore[] Score(MLContext ml, ITransformer model, IDataView data) =>
        ml.Data.CreateEnumerable<RegressionScore>(model.Transform(data), reuseRowObject: false).ToArray();

    [Fact]
    public void ASavedPipelineLoadsInAFreshContextWithBitIdenticalPredictions()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = RawData(ml, 30, seed: 2);
        var test = RawData(ml, 20, seed: 3);
        var model = FitPipeline(ml, NtkTestData.Mlp(folder, outputs: 1), train);
        var before = Score(ml, model, test);
        string path = Path.Combine(folder.Path, "model.zip");
        ml.Model.Save(model, train.Schema, path);

        var fresh = new MLContext();
        var loaded = fresh.Model.Load(path, out var inputSchema);
        var after = Score(fresh, loaded, RawData(fresh, 20, seed: 3));

        Assert.Equal(train.Schema.Count, inputSchema.Count);
        Assert.Equal(before.Select(s => BitConverter.SingleToInt32Bits(s.Score)), after.Select(s => BitConverter.SingleToInt32Bits(s.Score)));
        Assert.Equal(before.Select(s => BitConverter.SingleToInt32Bits(s.Variance)), after.Select(s => BitConverter.SingleToInt32Bits(s.Variance)));
        Assert.All(after, s => Assert.True(s.Variance > 0));
    }

    [Fact]
    public void OneLoadedModelServesSeveralThreadsAtOnce()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = FitPipeline(ml, NtkTestData.Mlp(folder, outputs: 1), RawData(ml, 30, seed: 2));
        string path = Path.Combine(folder.Path, "model.zip");
        ml.Model.Save(model, null, path);
        var loaded = ml.Model.Load(path, out _);
        var inputs = NtkTestData.Regression(50, seed: 6).Select(r => new Raw { A = r.Features[0], B = r.Features[1] }).ToArray();
        var engine = ml.Model.CreatePredictionEngine<Raw, RegressionScore>(loaded);
        var sequential = inputs.Select(r => engine.Predict(r).Score).ToArray();

        var parallel = new float[4][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var own = ml.Model.CreatePredictionEngine<Raw, RegressionScore>(loaded);   // one engine per thread, as ML.NET asks
            parallel[t] = Enumerable.Range(0, inputs.Length).Select(i => own.Predict(inputs[(i + 13 * t) % inputs.Length]).Score).ToArray();
        });

        for (int t = 0; t < 4; t++)
            for (int i = 0; i < inputs.Length; i++)
                Assert.Equal(sequential[(i + 13 * t) % inputs.Length], parallel[t][i]);
    }

    private sealed class ImageRow
    {
        [Microsoft.ML.Data.VectorType(3 * 8 * 8)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Class { get; set; } = "";
    }

    private sealed class ImageScores
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public float[] Variance { get; set; } = Array.Empty<float>();
    }

    /// <summary>
    /// Without a lock, threads predict at once through a CNN posterior (per-example Jacobians, the projected training Jacobian
    /// built lazily by whichever thread comes first): every thread's probabilities and variances equal a sequential run's, bit for bit.
    /// </summary>
    [Fact]
    public void ThreadsPredictAtOnceThroughACnnWithSequentialResults()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var (_, path, rows) = FitSavedCnn(ml, folder, seed: 3, independentOutputs: null);
        var inputs = rows(40);

        var concurrent = ml.Model.Load(path, out _);
        var parallel = new float[4][][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<ImageRow, ImageScores>(concurrent);
            parallel[t] = Enumerable.Range(0, inputs.Length).Select(i => engine.Predict(inputs[(i + 7 * t) % inputs.Length]))
                                    .Select(p => p.Score.Concat(p.Variance).ToArray()).ToArray();
        });
        var sequentialEngine = ml.Model.CreatePredictionEngine<ImageRow, ImageScores>(ml.Model.Load(path, out _));
        var sequential = inputs.Select(r => sequentialEngine.Predict(r)).Select(p => p.Score.Concat(p.Variance).ToArray()).ToArray();
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < inputs.Length; i++)
                Assert.Equal(sequential[(i + 7 * t) % inputs.Length].Select(BitConverter.SingleToInt32Bits), parallel[t][i].Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>
    /// With independent outputs a fitted CNN model's first prediction takes over the training Jacobian by output its fit
    /// formed for the kernel (<c>PredictorCache.Seed</c>; that the very tensor is taken over is
    /// PosteriorSerializerTests' to show) and predicts bit for bit what the saved and loaded model, which forms its own, predicts.
    /// </summary>
    [Fact]
    public void AFittedModelPredictsWithItsFitsTrainingJacobianAsTheLoadedModelDoes()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var (model, path, rows) = FitSavedCnn(ml, folder, seed: 5, independentOutputs: true);
        var test = ml.Data.LoadFromEnumerable(rows(10));

        ImageScores[] Score(ITransformer m) => ml.Data.CreateEnumerable<ImageScores>(m.Transform(test), reuseRowObject: false).ToArray();
        var fitted = Score(model);
        var loaded = Score(ml.Model.Load(path, out _));
        var variance = IndependentVariance(PredictorCache.Get(model.LastTransformer.State.AsMemory()));
        Assert.NotNull(variance.TrainingRowsByOutput);
        for (int i = 0; i < fitted.Length; i++)
        {
            Assert.Equal(loaded[i].Score.Select(BitConverter.SingleToInt32Bits), fitted[i].Score.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(loaded[i].Variance.Select(BitConverter.SingleToInt32Bits), fitted[i].Variance.Select(BitConverter.SingleToInt32Bits));
        }
    }

    /// <summary>
    /// NtkModel.Prepare on a loaded CNN model with independent outputs forms its training Jacobian by output before any
    /// prediction, in the predictor its PredictionEngines then use, and they predict bit for bit what an unprepared load does.
    /// </summary>
    [Fact]
    public void APreparedLoadedModelHoldsItsPredictionStateBeforeTheFirstPredictionAndPredictsTheSame()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var (_, path, rows) = FitSavedCnn(ml, folder, seed: 9, independentOutputs: true);
        var inputs = rows(6);
        var prepared = ml.Model.Load(path, out _);
        NtkModel.Prepare(prepared);
        var variance = IndependentVariance(PredictorCache.Get(NtkModel.FindStateMemory(prepared)!.Value));
        Assert.True(variance.HasFormedTrainingRows, "Prepare did not form the training Jacobian by output");

        var preparedEngine = ml.Model.CreatePredictionEngine<ImageRow, ImageScores>(prepared);
        var plainEngine = ml.Model.CreatePredictionEngine<ImageRow, ImageScores>(ml.Model.Load(path, out _));
        foreach (var row in inputs)
        {
            var (a, b) = (preparedEngine.Predict(row), plainEngine.Predict(row));
            Assert.Equal(b.Score.Concat(b.Variance).Select(BitConverter.SingleToInt32Bits), a.Score.Concat(a.Variance).Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Same(variance, IndependentVariance(PredictorCache.Get(NtkModel.FindStateMemory(prepared)!.Value)));
    }

    [Fact]
    public void PreparingAModelWithoutAnNtkPartIsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageRow { Features = new float[3], Class = "a" } });
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageRow.Class)).Fit(data);
        var error = Assert.Throws<ArgumentException>(() => NtkModel.Prepare(model));
        Assert.Contains("no Ntk", error.Message);
    }

    private static IndependentLaplaceVariance IndependentVariance(NtkPredictor predictor) =>
        (IndependentLaplaceVariance)(predictor.Variance is ScaledVariance scaled ? scaled.Inner : predictor.Variance);

    /// <summary>
    /// A SmallCnn (3×8×8 inputs, 3 classes) with seeded random weights, fitted by the multiclass trainer (s² = 0.1) on 24 random
    /// images and saved: the model, the saved file and a generator of further random rows (seeded by <paramref name="seed"/> + 1).
    /// </summary>
    private static (TransformerChain<NtkMulticlassTransformer> Model, string Path, Func<int, ImageRow[]> Rows) FitSavedCnn(
        MLContext ml, TemporaryFolder folder, int seed, bool? independentOutputs)
    {
        var architecture = NetworkArchitecture.SmallCnn(3, 8, 8, 3);
        TorchSharp.torch.manual_seed(seed);
        string weights = Path.Combine(folder.Path, "cnn.bin");
        architecture.CreateModule().save(weights);
        var random = new Random(seed + 1);
        ImageRow[] Rows(int n) => Enumerable.Range(0, n).Select(i => new ImageRow
        {
            Features = Enumerable.Range(0, 3 * 8 * 8).Select(_ => (float)random.NextDouble()).ToArray(), Class = "c" + (i % 3),
        }).ToArray();
        var train = ml.Data.LoadFromEnumerable(Rows(24));
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ImageRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options
            {
                Network = PretrainedNetwork.FromArchitecture(architecture, weights), PriorVariance = 0.1, IndependentOutputs = independentOutputs,
            })).Fit(train);
        string path = Path.Combine(folder.Path, "cnn-model.zip");
        ml.Model.Save(model, train.Schema, path);
        return (model, path, Rows);
    }

    [Fact]
    public void RegressionEvaluateAndCrossValidateWork()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var network = NtkTestData.Mlp(folder, outputs: 1);
        var data = ml.Data.LoadFromEnumerable(NtkTestData.Regression(60, seed: 7));
        var adapted = ml.Regression.Evaluate(ml.Regression.Trainers.Ntk(network).Fit(data).Transform(ml.Data.LoadFromEnumerable(NtkTestData.Regression(40, seed: 8))));
        Assert.True(adapted.RSquared > 0.8, $"R² {adapted.RSquared:F3}");

        var folds = ml.Regression.CrossValidate(data, ml.Regression.Trainers.Ntk(network), numberOfFolds: 3);
        Assert.Equal(3, folds.Count);
        Assert.All(folds, f => Assert.True(f.Metrics.RSquared > 0.5, $"fold R² {f.Metrics.RSquared:F3}"));
        Assert.All(folds, f => Assert.IsType<NtkRegressionTransformer>(f.Model));
    }

    [Fact]
    public void AMulticlassModelRoundTripsWithItsKeyValues()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(45, seed: 4));
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options
            {
                Network = NtkTestData.Mlp(folder, outputs: 3),
                PredictiveApproximation = PredictiveApproximation.MonteCarlo,
                MonteCarloSamples = 200,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(train);
        string path = Path.Combine(folder.Path, "classes.zip");
        ml.Model.Save(model, train.Schema, path);
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 5));
        var loaded = new MLContext().Model.Load(path, out _);

        string Dump(IDataView view) => string.Join("\n", view.Preview(maxRows: 100).RowView.Select(r =>
            string.Join(" ", r.Values.Where(v => v.Key is "Score" or "Variance" or "PredictedClass").Select(v => v.Value is VBuffer<float> b
                ? string.Join(",", b.DenseValues().Select(f => BitConverter.SingleToInt32Bits(f))) : v.Value.ToString()))));
        string before = Dump(model.Transform(test)), after = Dump(loaded.Transform(test));
        Assert.Equal(before, after);
        Assert.Contains("north", after);
    }
}
