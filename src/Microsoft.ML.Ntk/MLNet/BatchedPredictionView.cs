using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The output of a fitted Ntk model's Transform, predicted in batches: the same schema and values as the model's own
/// transforms (which ML.NET runs one row at a time), but each cursor reads <see cref="BatchRows"/> feature rows ahead and
/// predicts them together (one network pass and one product with the prepared posterior per batch instead of one per row).
/// The input columns are read through a second cursor of the input, in step with the first; so a column the consumer asks
/// for that is computed upstream (such as loaded images) is computed twice, once for the features and once to be passed on.
/// </summary>
internal sealed class BatchedPredictionView : IDataView
{
    /// <summary>Rows predicted together: large enough to amortize a network pass, small enough to keep the buffers small.</summary>
    public const int BatchRows = 256;

    private readonly IDataView input, features;
    private readonly NtkPredictor predictor;
    private readonly int inputColumns;

    private BatchedPredictionView(IDataView input, IDataView features, NtkPredictor predictor, DataViewSchema schema)
    {
        this.input = input;
        this.features = features;
        this.predictor = predictor;
        Schema = schema;
        inputColumns = input.Schema.Count;
    }

    /// <summary>
    /// The output of an Ntk model's transforms (<paramref name="model"/>, holding <paramref name="state"/>; <paramref name="shape"/>
    /// gives their output schema), batched where it can be.
    /// </summary>
    public static IDataView Transform(ITransformer shape, Func<ITransformer> model, ReadOnlyMemory<char> state, IDataView input) =>
        TryCreate(shape, state, input) ?? model().Transform(input);

    /// <summary>
    /// The batched view of the model applied to <paramref name="input"/>, or null when the model's output schema (from
    /// <paramref name="shape"/>) is not the input's columns followed by the task's output columns (the caller then uses the
    /// model's own transforms).
    /// </summary>
    private static IDataView? TryCreate(ITransformer shape, ReadOnlyMemory<char> state, IDataView input)
    {
        var schema = shape.GetOutputSchema(input.Schema);
        var predictor = PredictorCache.Get(state);
        if (!HasExpectedLayout(schema, input.Schema, OutputColumns.Names(predictor.Task))) return null;
        var ml = new MLContext();
        var features = ml.Transforms.Concatenate(NtkColumns.Features, predictor.FeatureColumn).Fit(input).Transform(input);
        return new BatchedPredictionView(input, features, predictor, schema);
    }

    private static bool HasExpectedLayout(DataViewSchema output, DataViewSchema input, IReadOnlyList<string> outputs)
    {
        if (output.Count != input.Count + outputs.Count) return false;
        for (int i = 0; i < input.Count; i++)
            if (output[i].Name != input[i].Name || !output[i].Type.Equals(input[i].Type)) return false;    // hidden when an output reuses its name
        return outputs.Select((name, k) => output[input.Count + k].Name == name).All(same => same);
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        var passed = input.Schema.Where(c => needed.Contains(c.Index)).ToList();
        bool predicts = needed.Any(i => i >= inputColumns);
        var inputCursor = input.GetRowCursor(passed);
        var featureCursor = predicts ? features.GetRowCursor(new[] { features.Schema[NtkColumns.Features] }) : null;
        return new BatchedPredictionCursor(this, inputCursor, featureCursor, needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    internal NtkPredictor Predictor => predictor;

    internal int InputColumns => inputColumns;
}
