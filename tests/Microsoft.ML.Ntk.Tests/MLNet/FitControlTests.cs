namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>Logging to mlContext.Log, progress reports and cancellation.</summary>
public class FitControlTests
{
    private sealed class Collect<T> : IProgress<T>
    {
        public List<T> Items { get; } = new();
        public void Report(T value) => Items.Add(value);
    }

    [Fact]
    public void TheFitLogsToTheContextAndReportsEveryStage()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var progress = new Collect<NtkProgress>();
        var options = new NtkRegressionTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 1), Progress = progress, Strategy = InferenceStrategy.FunctionSpace };
        var model = ml.Regression.Trainers.Ntk(options).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(30, seed: 2)));

        Assert.Contains(log, m => m.Contains("NtkRegressionTrainer") && m.Contains("Adapting"));
        Assert.Contains(log, m => m.Contains("Fitted: FunctionSpace"));
        var stages = progress.Items.Select(p => p.Stage).Distinct().ToList();
        Assert.Equal(new[] { NtkFitStage.ReadingData, NtkFitStage.Linearizing, NtkFitStage.LearningHyperparameters, NtkFitStage.Solving,
                             NtkFitStage.BuildingModel, NtkFitStage.Finished }, stages);
        Assert.Contains(progress.Items, p => p.Stage == NtkFitStage.LearningHyperparameters && p.Step > 10);
        Assert.Equal(model.FitSummary.ToString(), progress.Items[^1].Message);
    }

    [Fact]
    public void TheSoftmaxFitReportsEvidenceAndNewtonSteps()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var progress = new Collect<NtkProgress>();
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), Progress = progress }));
        pipeline.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 4)));
        Assert.Contains(progress.Items, p => p.Stage == NtkFitStage.LearningHyperparameters && p.Message.Contains("Laplace evidence"));
        Assert.Contains(progress.Items, p => p.Stage == NtkFitStage.Solving && p.Message.Contains("Newton iteration"));
    }

    [Fact]
    public void ACancelledTokenStopsTheFitDuringHyperparameterLearning()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        using var cancellation = new CancellationTokenSource();
        int evaluations = 0;
        var progress = new Collect<NtkProgress>();
        var options = new NtkRegressionTrainer.Options
        {
            Network = NtkTestData.Mlp(folder, outputs: 1),
            CancellationToken = cancellation.Token,
            Progress = new Progress(p =>
            {
                if (p.Stage == NtkFitStage.LearningHyperparameters && ++evaluations == 3) cancellation.Cancel();
            }),
        };
        var trainer = ml.Regression.Trainers.Ntk(options);
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(30, seed: 2))));
        Assert.InRange(evaluations, 3, 4);
    }

    /// <summary>
    /// MLContext.CancelExecution (internal to ML.NET: what AutoML and other hosts inside ML.NET call) stops the fit, as it stops
    /// ML.NET's own trainers (looked at on every progress step, and every 20 ms). The test calls it by reflection, as no public
    /// API exposes it.
    /// </summary>
    [Fact]
    public void CancellingTheMLContextStopsTheFit()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        int evaluations = 0;
        var options = new NtkRegressionTrainer.Options
        {
            Network = NtkTestData.Mlp(folder, outputs: 1),
            Progress = new Progress(p =>
            {
                if (p.Stage != NtkFitStage.LearningHyperparameters || ++evaluations != 3) return;
                CancelExecution(ml);                     // seen at the next progress step
            }),
        };
        var trainer = ml.Regression.Trainers.Ntk(options);
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(30, seed: 2))));
        Assert.InRange(evaluations, 3, 4);
    }

    private static void CancelExecution(MLContext ml)
    {
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public |
                                                     System.Reflection.BindingFlags.NonPublic;
        var method = typeof(MLContext).GetMethod("CancelExecution", flags)
                     ?? typeof(MLContext).GetInterfaces().Select(i => i.GetMethod("CancelExecution", flags)).First(m => m is not null)!;
        method.Invoke(ml, null);
    }

    /// <summary>Calls back synchronously (System.Progress would post to the thread pool).</summary>
    private sealed class Progress(Action<NtkProgress> action) : IProgress<NtkProgress>
    {
        public void Report(NtkProgress value) => action(value);
    }
}
