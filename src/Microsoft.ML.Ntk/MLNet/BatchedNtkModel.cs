using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// An Ntk model found inside a loaded pipeline, whose Transform predicts in batches as a fitted model's does; everything
/// else (schema, row mapper for PredictionEngine, saving) is the loaded transforms' own, so saving it saves the same model.
/// </summary>
internal sealed class BatchedNtkModel : ITransformer
{
    private readonly ITransformer model;
    private readonly ReadOnlyMemory<char> state;

    /// <summary>The model state (base64 text) inside the model, as its state lookup hands it to rows.</summary>
    public ReadOnlyMemory<char> State => state;

    public BatchedNtkModel(ITransformer model, ReadOnlyMemory<char> state)
    {
        this.model = model;
        this.state = state;
    }

    public bool IsRowToRowMapper => model.IsRowToRowMapper;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => model.GetOutputSchema(inputSchema);

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => model.GetRowToRowMapper(inputSchema);

    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return BatchedPredictionView.Transform(model, () => model, state, input);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => model.Save(ctx);
}
