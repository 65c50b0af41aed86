using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk;

/// <summary>
/// A fitted Ntk model: an ordinary ML.NET transformer (Transform, GetOutputSchema, PredictionEngine, mlContext.Model.Save)
/// that also tells what its fit did. It is made of ML.NET's own saveable transforms, so a saved model loads with
/// mlContext.Model.Load as a TransformerChain in any application that references Microsoft.ML.Ntk and a TorchSharp backend.
/// </summary>
public abstract class NtkTransformer : ITransformer
{
    private readonly ITransformer shape;
    private readonly Lazy<ITransformer> model;

    /// <param name="build">The model's ML.NET transforms holding a given state (<see cref="PredictionChain"/>).</param>
    /// <param name="fitSummary">What the fit did.</param>
    /// <param name="state">The model state.</param>
    /// <remarks>
    /// The transforms that hold the state are built when first needed (saving, a PredictionEngine, a model whose output
    /// cannot be batched), not by the fit: ML.NET's value mapping compresses the state it holds, which took 2.5 s for the
    /// 53 MB state of 1,000 images of ten classes. Schemas come from the same transforms holding an empty state.
    /// </remarks>
    private protected NtkTransformer(Func<string, ITransformer> build, NtkFitSummary fitSummary, string state)
    {
        shape = build("");
        model = new Lazy<ITransformer>(() => build(state), LazyThreadSafetyMode.ExecutionAndPublication);
        FitSummary = fitSummary;
        State = state;
    }

    /// <summary>The saved model state (base64 text) inside the model.</summary>
    internal string State { get; }

    /// <summary>What the fit did: strategy, hyperparameters, solver, time, warnings.</summary>
    public NtkFitSummary FitSummary { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => shape.IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => shape.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => model.Value.GetRowToRowMapper(inputSchema);

    /// <summary>
    /// The input with the model's output columns. Rows are predicted in batches as they are read (the same values, within
    /// float32 rounding, as one row at a time through a PredictionEngine); a model whose outputs cannot be laid out that way
    /// falls back to ML.NET's row-by-row transforms.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return BatchedPredictionView.Transform(shape, () => model.Value, State.AsMemory(), input);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => model.Value.Save(ctx);
}

/// <summary>A fitted Ntk regression model: adds Score (predictive mean) and Variance (predictive variance, noise included).</summary>
public sealed class NtkRegressionTransformer : NtkTransformer
{
    internal NtkRegressionTransformer(Func<string, ITransformer> model, NtkFitSummary fitSummary, string state) : base(model, fitSummary, state) { }
}

/// <summary>
/// A fitted Ntk multiclass model: adds Score (class probabilities), PredictedLabel (the training label's key type) and
/// Variance (each class's latent variance).
/// </summary>
public sealed class NtkMulticlassTransformer : NtkTransformer
{
    internal NtkMulticlassTransformer(Func<string, ITransformer> model, NtkFitSummary fitSummary, string state) : base(model, fitSummary, state) { }
}

/// <summary>
/// A fitted Ntk binary model: adds Score (the log-odds' posterior mean), Probability (P(true)), PredictedLabel (Boolean)
/// and Variance (the log-odds' posterior variance).
/// </summary>
public sealed class NtkBinaryTransformer : NtkTransformer
{
    internal NtkBinaryTransformer(Func<string, ITransformer> model, NtkFitSummary fitSummary, string state) : base(model, fitSummary, state) { }
}
