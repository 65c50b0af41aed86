using Microsoft.ML.Ntk.Tests.MLNet;

namespace Microsoft.ML.Ntk.Tests.Stress;

/// <summary>
/// Predictions through the public API as a service makes them: a model saved and loaded, a PredictionEngine on it, row after
/// row, with a thread forcing garbage collections every 2 ms. Every prediction must equal the unstressed one bit for bit,
/// and resident memory must stay flat. The suite predicts 2,000 rows (a few seconds); the soak is the same test with
/// NTK_SOAK_PREDICTIONS=100000.
/// </summary>
public class PredictionSoakTests
{
    private static int Predictions => int.TryParse(Environment.GetEnvironmentVariable("NTK_SOAK_PREDICTIONS"), out int n) ? n : 2000;

    /// <summary>
    /// The most resident memory may grow after the first tenth of the predictions: 100 MiB. A prediction's tensors are a
    /// few kB, so a leak of each one would pass it within the soak; glibc's fragmentation stays well below it.
    /// </summary>
    private const long MaxResidentGrowth = 100L << 20;

    [Fact]
    public void PredictionsOfALoadedModelAreIdenticalAndMemoryIsFlatUnderForcedCollections()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Regression(60, seed: 2));
        var model = ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(train);
        string path = Path.Combine(folder.Path, "soak.zip");
        ml.Model.Save(model, train.Schema, path);
        var engine = new MLContext().Model.CreatePredictionEngine<RegressionRow, RegressionScore>(new MLContext().Model.Load(path, out _));
        var rows = NtkTestData.Regression(100, seed: 3);
        var expected = rows.Select(r => engine.Predict(r)).Select(p => (p.Score, p.Variance)).ToArray();

        int different = 0, failed = 0;
        long afterWarmUp = 0;
        string firstFailure = "";
        using (new ForcedCollector())
        {
            for (int i = 0; i < Predictions; i++)
            {
                if (i == Predictions / 10) afterWarmUp = ForcedCollector.ResidentBytes();
                try
                {
                    var prediction = engine.Predict(rows[i % rows.Length]);
                    if ((prediction.Score, prediction.Variance) != expected[i % rows.Length]) different++;
                }
                catch (Exception ex)
                {
                    if (failed++ == 0) firstFailure = $"{ex.GetType().Name}: {ex.Message.Split('\n')[0]} at {ex.GetBaseException().StackTrace}";
                }
            }
        }
        long growth = ForcedCollector.ResidentBytes() - afterWarmUp;
        Console.WriteLine($"prediction soak: {Predictions} predictions, {failed} failed, {different} different, resident {afterWarmUp >> 20} MiB after a tenth, grew by {growth >> 20} MiB");
        Assert.True(failed == 0, $"{failed} of {Predictions} predictions failed, the first with {firstFailure}");
        Assert.Equal(0, different);
        Assert.True(growth < MaxResidentGrowth, $"resident memory grew by {growth >> 20} MiB over {Predictions * 9 / 10} predictions");
    }
}
