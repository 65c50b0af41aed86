using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Ntk;

/// <summary>
/// What the three Ntk trainers share: their options are checked when the trainer is made (before any data is read), a fit
/// runs inside a <c>FitRun</c> (the MLContext's log, progress, cancellation), and the output schema is the model's own. Each
/// trainer adds how it reads its label, which settings its inference gets, and which model it returns.
/// </summary>
/// <typeparam name="TTransformer">The fitted model.</typeparam>
public abstract class NtkTrainer<TTransformer> : IEstimator<TTransformer> where TTransformer : NtkTransformer
{
    private readonly IHostEnvironment? environment;

    private protected NtkTrainer(IHostEnvironment? environment, NtkTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.environment = environment;
        TrainerOptions = options;
    }

    private protected NtkTrainerOptions TrainerOptions { get; }

    /// <summary>Reads the training rows, fits the posterior and returns the model.</summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var run = new FitRun(environment, GetType().Name, TrainerOptions);
        run.Report(NtkFitStage.ReadingData, $"Reading '{TrainerOptions.LabelColumnName}' and '{TrainerOptions.FeatureColumnName}'.");
        return Fit(input, run);
    }

    /// <summary>The input columns plus the model's output columns; throws when the label or feature column is missing.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        FitRun.CheckColumns(inputSchema, TrainerOptions);
        return OutputSchema(inputSchema);
    }

    private protected abstract TTransformer Fit(IDataView input, FitRun run);

    private protected abstract SchemaShape OutputSchema(SchemaShape inputSchema);
}
