using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>
/// A fitted model's Transform predicts in batches (<see cref="BatchedPredictionView"/>); these tests hold it to the model's
/// own row-by-row transforms (the PredictionEngine's path and a loaded model's) on more rows than one batch.
/// </summary>
public class BatchedTransformTests
{
    /// <summary>More than two batches, the last one partial.</summary>
    private const int Rows = 2 * BatchedPredictionView.BatchRows + 37;

    /// <summary>
    /// Batched and single-row products sum the same float64 terms in other orders (~1e-16 relative); the outputs are
    /// float32, so they agree to its last bit or two: 1e-6 relative to the larger magnitude, 1e-9 absolute near zero.
    /// </summary>
    private static void AssertSame(float expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * Math.Max(Math.Abs(expected), 1e-3f), $"{what}: {actual} against {expected} one row at a time.");

    private sealed class ClassScore
    {
        [VectorType(3)]
        public float[] Score { get; set; } = Array.Empty<float>();

        [VectorType(3)]
        public float[] Variance { get; set; } = Array.Empty<float>();

        public uint PredictedLabel { get; set; }
    }

    private sealed class BinaryScore
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
        public float Variance { get; set; }
    }

    [Fact]
    public void RegressionTransformIsBatchedAndEqualsThePredictionEngine()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(40, seed: 2)));
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Regression(Rows, seed: 3));

        var output = model.Transform(test);
        Assert.IsType<BatchedPredictionView>(output);
        Assert.Equal(model.GetOutputSchema(test.Schema).Select(c => (c.Name, c.Type)), output.Schema.Select(c => (c.Name, c.Type)));
        var batched = ml.Data.CreateEnumerable<RegressionScore>(output, reuseRowObject: false).ToArray();
        var engine = ml.Model.CreatePredictionEngine<RegressionRow, RegressionScore>(model);
        var rows = NtkTestData.Regression(Rows, seed: 3);
        Assert.Equal(Rows, batched.Length);
        for (int i = 0; i < Rows; i++)
        {
            var one = engine.Predict(rows[i]);
            AssertSame(one.Score, batched[i].Score, $"Score of row {i}");
            AssertSame(one.Variance, batched[i].Variance, $"Variance of row {i}");
        }
        // The label passes through the input's own cursor, in step with the predictions.
        Assert.Equal(rows.Select(r => r.Label), output.GetColumn<float>("Label"));
        Assert.Equal(batched.Select(r => r.Score), output.GetColumn<float>("Score"));
    }

    [Fact]
    public void MulticlassTransformEqualsALoadedModelAndEvaluates()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(Rows, seed: 5));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3) }));
        var model = pipeline.Fit(train);
        string path = Path.Combine(folder.Path, "classes.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);

        var output = model.Transform(test);
        Assert.IsType<BatchedPredictionView>(output);
        var expectedSchema = loaded.Transform(test).Schema;
        Assert.Equal(expectedSchema.Select(c => (c.Name, c.Type)), output.Schema.Select(c => (c.Name, c.Type)));
        VBuffer<ReadOnlyMemory<char>> keys = default, loadedKeys = default;
        output.Schema["PredictedLabel"].GetKeyValues(ref keys);
        expectedSchema["PredictedLabel"].GetKeyValues(ref loadedKeys);
        Assert.Equal(loadedKeys.DenseValues().Select(k => k.ToString()), keys.DenseValues().Select(k => k.ToString()));

        var batched = ml.Data.CreateEnumerable<ClassScore>(output, reuseRowObject: false).ToArray();
        var rowByRow = ml.Data.CreateEnumerable<ClassScore>(loaded.Transform(test), reuseRowObject: false).ToArray();
        Assert.Equal(Rows, batched.Length);
        for (int i = 0; i < Rows; i++)
        {
            Assert.Equal(rowByRow[i].PredictedLabel, batched[i].PredictedLabel);
            for (int k = 0; k < 3; k++)
            {
                AssertSame(rowByRow[i].Score[k], batched[i].Score[k], $"Score[{k}] of row {i}");
                AssertSame(rowByRow[i].Variance[k], batched[i].Variance[k], $"Variance[{k}] of row {i}");
            }
        }
        var metrics = ml.MulticlassClassification.Evaluate(output);
        var loadedMetrics = ml.MulticlassClassification.Evaluate(loaded.Transform(test));
        Assert.Equal(loadedMetrics.MacroAccuracy, metrics.MacroAccuracy, 6);
        Assert.Equal(loadedMetrics.LogLoss, metrics.LogLoss, 5);
    }

    [Fact]
    public void ALoadedModelPredictsInBatchesThroughWithBatchedTransformAndStillSavesTheSameModel()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(Rows, seed: 5));
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3) }))
            .Fit(train);
        string path = Path.Combine(folder.Path, "classes.zip"), again = Path.Combine(folder.Path, "again.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);

        var batchedModel = NtkModel.WithBatchedTransform(loaded);
        Assert.NotSame(loaded, batchedModel);
        Assert.Same(batchedModel, NtkModel.WithBatchedTransform(batchedModel));
        Assert.Equal(NtkModel.Describe(loaded).FitSummary!.ToString(), NtkModel.Describe(batchedModel).FitSummary!.ToString());
        var output = batchedModel.Transform(test);
        Assert.IsType<BatchedPredictionView>(output);
        var batched = ml.Data.CreateEnumerable<ClassScore>(output, reuseRowObject: false).ToArray();
        var rowByRow = ml.Data.CreateEnumerable<ClassScore>(loaded.Transform(test), reuseRowObject: false).ToArray();
        Assert.Equal(rowByRow.Select(r => r.PredictedLabel), batched.Select(r => r.PredictedLabel));
        for (int i = 0; i < Rows; i++)
            for (int k = 0; k < 3; k++) AssertSame(rowByRow[i].Score[k], batched[i].Score[k], $"Score[{k}] of row {i}");
        Assert.Equal(rowByRow.Select(r => r.Score[0]), output.GetColumn<VBuffer<float>>("Score").Select(s => s.GetValues()[0]), new ToleranceComparer());

        ml.Model.Save(batchedModel, train.Schema, again);
        var reloaded = new MLContext().Model.Load(again, out _);
        var engine = new MLContext().Model.CreatePredictionEngine<ClassRow, ClassScore>(reloaded);
        var first = NtkTestData.Classes(1, seed: 5)[0];
        Assert.Equal(rowByRow[0].Score, engine.Predict(first).Score);
        Assert.Same(loaded.GetType(), reloaded.GetType());
    }

    [Fact]
    public void InAPipelineOnlyTheNtkModelIsWrapped()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(60, seed: 4));
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3) }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(train);
        string path = Path.Combine(folder.Path, "pipeline.zip");
        ml.Model.Save(model, train.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var parts = ((IEnumerable<ITransformer>)NtkModel.WithBatchedTransform(loaded)).ToList();
        Assert.Equal(((IEnumerable<ITransformer>)loaded).Count(), parts.Count);
        Assert.Single(parts, p => p is BatchedNtkModel);
        Assert.IsType<BatchedNtkModel>(parts[1]);
        var test = ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 5));
        Assert.Equal(loaded.Transform(test).GetColumn<string>("PredictedClass"), NtkModel.WithBatchedTransform(loaded).Transform(test).GetColumn<string>("PredictedClass"));
    }

    private sealed class ToleranceComparer : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= 1e-6 * Math.Max(Math.Abs(x), 1e-3f);
        public int GetHashCode(float value) => 0;
    }

    [Fact]
    public void BinaryTransformEqualsThePredictionEngine()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = ml.BinaryClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Binary(60, seed: 4)));
        var rows = NtkTestData.Binary(Rows, seed: 5);
        var output = model.Transform(ml.Data.LoadFromEnumerable(rows));
        Assert.IsType<BatchedPredictionView>(output);
        var batched = ml.Data.CreateEnumerable<BinaryScore>(output, reuseRowObject: false).ToArray();
        var engine = ml.Model.CreatePredictionEngine<BinaryRow, BinaryScore>(model);
        for (int i = 0; i < Rows; i++)
        {
            var one = engine.Predict(rows[i]);
            AssertSame(one.Score, batched[i].Score, $"Score of row {i}");
            AssertSame(one.Probability, batched[i].Probability, $"Probability of row {i}");
            AssertSame(one.Variance, batched[i].Variance, $"Variance of row {i}");
            Assert.Equal(one.PredictedLabel, batched[i].PredictedLabel);
        }
        Assert.True(ml.BinaryClassification.Evaluate(output).AreaUnderRocCurve > 0.85);
    }

    private sealed class RowWithScore
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public float Label { get; set; }

        public string Score { get; set; } = "";
    }

    [Fact]
    public void AnInputColumnNamedLikeAnOutputIsHiddenAsMLNetHidesIt()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(40, seed: 2)));
        var rows = NtkTestData.Regression(300, seed: 3).Select(r => new RowWithScore { Features = r.Features, Label = r.Label, Score = "old" }).ToArray();
        var output = model.Transform(ml.Data.LoadFromEnumerable(rows));

        Assert.IsType<BatchedPredictionView>(output);
        Assert.Equal(NumberDataViewType.Single, output.Schema["Score"].Type);
        Assert.Contains(output.Schema, c => c.IsHidden && c.Name == "Score" && c.Type is TextDataViewType);
        var engine = ml.Model.CreatePredictionEngine<RegressionRow, RegressionScore>(model);
        float[] scores = output.GetColumn<float>("Score").ToArray();
        for (int i = 0; i < rows.Length; i++)
            AssertSame(engine.Predict(new RegressionRow { Features = rows[i].Features }).Score, scores[i], $"Score of row {i}");
    }

    [Fact]
    public void ANonFiniteFeatureNamesItsRowPosition()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(40, seed: 2)));
        var rows = NtkTestData.Regression(Rows, seed: 3);
        rows[300].Features[1] = float.NaN;
        var output = model.Transform(ml.Data.LoadFromEnumerable(rows));
        var error = Assert.Throws<ArgumentException>(() => output.GetColumn<float>("Score").ToArray());
        Assert.Contains("position 300", error.Message);
        Assert.Contains("'Features'", error.Message);
        Assert.Contains("slot 1", error.Message);
    }
}
