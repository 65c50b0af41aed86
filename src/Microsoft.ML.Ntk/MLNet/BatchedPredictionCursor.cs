using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// A cursor of <see cref="BatchedPredictionView"/>: the input columns come from a cursor of the input; the output columns
/// from predictions of the next <see cref="BatchedPredictionView.BatchRows"/> rows, read ahead through a second cursor of
/// the features in step with the first (their row ids are compared, so a source that gives two cursors different rows
/// is an error, not a wrong prediction).
/// </summary>
internal sealed class BatchedPredictionCursor : DataViewRowCursor
{
    private readonly BatchedPredictionView view;
    private readonly DataViewRowCursor inputCursor;
    private readonly DataViewRowCursor? featureCursor;
    private readonly HashSet<int> active;
    private readonly ValueGetter<VBuffer<float>>? readFeatures;
    private readonly ValueGetter<DataViewRowId>? inputId, featureId;
    private readonly List<DataViewRowId> batchIds = new();
    private Array[] batch = Array.Empty<Array>();
    private int inBatch = -1;
    private long position = -1;

    public BatchedPredictionCursor(BatchedPredictionView view, DataViewRowCursor inputCursor, DataViewRowCursor? featureCursor, HashSet<int> active)
    {
        this.view = view;
        this.inputCursor = inputCursor;
        this.featureCursor = featureCursor;
        this.active = active;
        if (featureCursor is null) return;
        readFeatures = featureCursor.GetGetter<VBuffer<float>>(featureCursor.Schema[NtkColumns.Features]);
        inputId = inputCursor.GetIdGetter();
        featureId = featureCursor.GetIdGetter();
    }

    public override long Position => position;

    public override long Batch => 0;

    public override DataViewSchema Schema => view.Schema;

    public override bool MoveNext()
    {
        if (!inputCursor.MoveNext())
        {
            inBatch = batchIds.Count;                                                   // off the rows: getters refuse
            return false;
        }
        position++;
        if (featureCursor is null) return true;
        if (++inBatch >= batchIds.Count) ReadBatch();
        DataViewRowId id = default;
        inputId!(ref id);
        if (!id.Equals(batchIds[inBatch]))
            throw new InvalidOperationException($"The data gave the Ntk model's two cursors different rows at position {position}; " +
                                                "batched prediction needs a source that repeats its row order.");
        return true;
    }

    private void ReadBatch()
    {
        var rows = new List<float[]>(BatchedPredictionView.BatchRows);
        batchIds.Clear();
        VBuffer<float> values = default;
        DataViewRowId id = default;
        while (rows.Count < BatchedPredictionView.BatchRows && featureCursor!.MoveNext())
        {
            readFeatures!(ref values);
            rows.Add(values.DenseValues().ToArray());
            featureId!(ref id);
            batchIds.Add(id);
        }
        if (rows.Count == 0)
            throw new InvalidOperationException($"The data gave the Ntk model's feature cursor fewer rows than its input cursor (position {position}).");
        batch = OutputColumns.Predict(view.Predictor, rows, position);
        inBatch = 0;
    }

    public override ValueGetter<DataViewRowId> GetIdGetter() => inputCursor.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
        if (column.Index < view.InputColumns) return inputCursor.GetGetter<TValue>(inputCursor.Schema[column.Index]);
        return OutputGetter(column) as ValueGetter<TValue> ??
               throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type.RawType.Name} values, not {typeof(TValue).Name}.");
    }

    private Delegate OutputGetter(DataViewSchema.Column column)
    {
        int k = column.Index - view.InputColumns;
        int Row() => inBatch >= 0 && inBatch < batchIds.Count ? inBatch
            : throw new InvalidOperationException($"'{column.Name}' was read with the cursor not on a row (before MoveNext, or after the last row).");
        return column.Type switch
        {
            VectorDataViewType => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                float[] row = ((float[][])batch[k])[Row()];
                var editor = VBufferEditor.Create(ref value, row.Length);
                row.CopyTo(editor.Values);
                value = editor.Commit();
            }),
            KeyDataViewType => (ValueGetter<uint>)((ref uint value) => value = ((uint[])batch[k])[Row()]),
            BooleanDataViewType => (ValueGetter<bool>)((ref bool value) => value = ((bool[])batch[k])[Row()]),
            _ => (ValueGetter<float>)((ref float value) => value = ((float[])batch[k])[Row()]),
        };
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inputCursor.Dispose();
            featureCursor?.Dispose();
        }
        base.Dispose(disposing);
    }
}
