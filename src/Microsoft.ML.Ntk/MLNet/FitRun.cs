using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// What both trainers do around inference: log to the user's MLContext, report progress, read and check the data,
/// linearize a float64 copy of the network and check its output size, summarize the fit, and describe the output schema.
/// The fit is cancelled by the options' token or by MLContext.CancelExecution (what hosts use): the MLContext is looked at on
/// every progress step of the solvers and, for long steps, every 20 ms.
/// </summary>
internal sealed class FitRun : IDisposable
{
    private readonly IChannel? channel;
    private readonly IHostEnvironment? environment;
    private readonly NtkTrainerOptions options;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource cancellation;
    private readonly Timer? watch;

    public FitRun(IHostEnvironment? environment, string trainer, NtkTrainerOptions options)
    {
        options.Validate();
        this.options = options;
        this.environment = environment;
        cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        if (environment is not null && CatalogEnvironment.Setting(environment, "IsCanceled") is bool)
            watch = new Timer(_ => CancelIfRequested(environment), null, 20, 20);
        channel = environment?.Start(trainer);
        Log($"Adapting {options.Network!.Description}: {options.AdaptedParameters}, strategy {options.Strategy}, prior mean {options.Mean}.");
    }

    public SolverSettings Solver
    {
        get
        {
            var solver = new SolverSettings(options.Tolerance, options.MaxIterations, Cancellation, new WatchingProgress(this, options.Progress).Report);
            solver.Validate();
            return solver;
        }
    }

    public void Report(NtkFitStage stage, string message)
    {
        options.Progress?.Report(new NtkProgress(stage, 0, message));
        Log(message);
    }

    public void Log(string message) => channel?.Info(MessageSensitivity.None, message);

    private void Warn(string message) => channel?.Warning(MessageSensitivity.None, message);

    /// <summary>
    /// What a trainer's inference step gives back: the fit's report, how to write its posterior, and the posterior's variance,
    /// whose prepared prediction state the model decoded from the fit's state takes over (<see cref="PredictorCache.Seed"/>).
    /// </summary>
    public sealed record Posterior(FitReport Report, Action<Stream> Write, IPosteriorVariance? Variance = null);

    /// <summary>
    /// Linearizes a float64 copy of the network at the training inputs, checks its output count, runs the trainer's
    /// inference (given the network, the inputs and the output count), and encodes the model state. The network and
    /// the inputs are on the device MLContext.GpuDeviceId and FallbackToCpu choose (<see cref="ComputeDevice"/>).
    /// </summary>
    public (NtkFitSummary Summary, string State) Fit(TrainingData data, NtkTask task, string[] classNames,
                                                     Func<LinearizedNetwork, Tensor, long, Posterior> infer, int[]? outputOfKey = null)
    {
        var layout = InputLayout.Resolve(options, data.FeatureLength, options.FeatureColumnName);
        Report(NtkFitStage.Linearizing, $"Read {data.Count} rows of {data.FeatureLength} features; network input shape [{string.Join(", ", layout.Shape)}].");
        var device = ComputeDevice.Resolve(environment, Warn);
        using var scope = NewDisposeScope();
        var network = NtkModelState.Linearize(options.Network!.CreateCopy(), options.AdaptedParameters, options.TangentMode, options.BatchSize, device);
        Tensor inputs = layout.ToInputs(data.Features, data.Count).to(device);
        Log($"Linearized: {network.Parameters.Count} adapted parameters, {network.Products.GetType().Name}, frozen trunk: {network.HasFrozenTrunk}.");
        var posterior = infer(network, inputs, OutputCount(network, inputs));
        Report(NtkFitStage.BuildingModel, "Saving the posterior into the model.");
        var contents = new NtkModelState.Contents(task, options.Network!, options.AdaptedParameters, options.TangentMode, options.BatchSize, layout, classNames,
                                                  device, options.FeatureColumnName, outputOfKey ?? Enumerable.Range(0, classNames.Length).ToArray());
        var summary = Finish(posterior.Report, data.Count, network.Parameters.Count);
        string state = NtkModelState.Encode(contents, posterior.Write, summary);
        if (posterior.Variance is { } fitted) PredictorCache.Seed(state, fitted);
        return (summary, state);
    }

    /// <summary>The number of network outputs, from one forward pass on the first input (errors name the input shape).</summary>
    private static long OutputCount(LinearizedNetwork network, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var first = network.Prepare(inputs.narrow(0, 0, 1));
        Tensor output = network.Output(first);
        return output.shape[^1];
    }

    private NtkFitSummary Finish(FitReport report, long rows, long parameters)
    {
        var summary = new NtkFitSummary(report.Strategy, TrainingRows: rows, AdaptedParameters: parameters, report.PriorVariance, report.NoiseVariance,
                                        report.LogMarginalLikelihood, report.HyperparameterIterations, report.SolverIterations, report.SolverResidual,
                                        report.SolverConverged, Elapsed: clock.Elapsed, report.Warnings, report.CovarianceScale,
                                        report.IndependentOutputs);
        foreach (string warning in report.Warnings) channel?.Warning(MessageSensitivity.None, warning);
        options.Progress?.Report(new NtkProgress(NtkFitStage.Finished, 0, summary.ToString()));
        Log("Fitted: " + summary);
        return summary;
    }

    /// <summary>The watch's tick; a tick that runs while the run is being disposed finds the source gone and does nothing.</summary>
    private void CancelIfRequested(IHostEnvironment environment)
    {
        try
        {
            if (CatalogEnvironment.Setting(environment, "IsCanceled") is true) cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Forwards the solvers' progress to the user's as fit stages, looking at the MLContext's cancellation first.</summary>
    private sealed class WatchingProgress(FitRun run, IProgress<NtkProgress>? user)
    {
        public void Report(SolverPhase phase, int step, Func<string> message)
        {
            if (run.environment is { } environment) run.CancelIfRequested(environment);
            user?.Report(new NtkProgress(phase == SolverPhase.Searching ? NtkFitStage.LearningHyperparameters : NtkFitStage.Solving, step, message()));
        }
    }

    /// <summary>Cancelled by the options' token or by the MLContext.</summary>
    public CancellationToken Cancellation => cancellation.Token;

    public void Dispose()
    {
        if (watch is not null)
        {
            using var stopped = new ManualResetEvent(false);
            if (watch.Dispose(stopped)) stopped.WaitOne();              // no tick runs after this
        }
        cancellation.Dispose();
        channel?.Dispose();
    }

    /// <summary>Checks that the label and feature columns are there, naming the missing one and the columns there are.</summary>
    public static void CheckColumns(SchemaShape input, NtkTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        foreach (var (name, role) in new[] { (options.LabelColumnName, "label"), (options.FeatureColumnName, "feature") })
            if (!input.Any(c => c.Name == name))
                throw new ArgumentOutOfRangeException(name, $"The input schema has no {role} column '{name}'; its columns are: " +
                                                            string.Join(", ", input.Select(c => $"'{c.Name}'")) + ".");
    }
}
