using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The training rows read from an IDataView and checked: features (row-major, one vector per row), and either regression
/// targets or class indices 0 … K−1 with the class names. Every error names the column, and the row where one is at fault.
/// </summary>
internal sealed class TrainingData
{
    private TrainingData(float[] features, long count, long featureLength)
    {
        Features = features;
        Count = count;
        FeatureLength = featureLength;
    }

    public float[] Features { get; }
    public long Count { get; }
    public long FeatureLength { get; }
    public float[] Targets { get; private init; } = Array.Empty<float>();
    public long[] Classes { get; private init; } = Array.Empty<long>();

    /// <summary>Reads a Single label and the features; labels must be finite.</summary>
    public static TrainingData ReadRegression(IDataView data, string labelColumn, string featureColumn, CancellationToken cancellation)
    {
        var label = Column(data.Schema, labelColumn, "label");
        if (label.Type != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(labelColumn), $"The label column '{labelColumn}' is of type {label.Type}; " +
                                                  "regression needs Single (float). Convert it with mlContext.Transforms.Conversion.ConvertType.");
        var targets = new List<float>();
        var rows = Read(data, label, featureColumn, cancellation, cursor =>
        {
            var getter = cursor.GetGetter<float>(label);
            return row =>
            {
                float value = 0;
                getter(ref value);
                if (!float.IsFinite(value)) throw new ArgumentException($"The label column '{labelColumn}' holds {value} at row {row}; labels must be finite.");
                if (Math.Abs(value) > MaxLabelMagnitude)
                    throw new ArgumentException($"The label column '{labelColumn}' holds {value} at row {row}; beyond ±{MaxLabelMagnitude:G0} the predictive " +
                                                "variance (the label's scale squared) would overflow the Single Variance column. Rescale the label.");
                targets.Add(value);
            };
        });
        return new TrainingData(rows.Features, rows.Count, rows.Length) { Targets = targets.ToArray() };
    }

    /// <summary>The largest label magnitude regression accepts: its square stays within Single's range (3.4e38) with room to spare.</summary>
    public const float MaxLabelMagnitude = 1e18f;

    /// <summary>Reads a key-typed label (class k+1 is class index k) and the features; missing labels are errors.</summary>
    public static TrainingData ReadMulticlass(IDataView data, string labelColumn, string featureColumn, CancellationToken cancellation)
    {
        var label = Column(data.Schema, labelColumn, "label");
        if (label.Type is KeyDataViewType { RawType: var raw } && raw != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(labelColumn), $"The label column '{labelColumn}' is a key of {raw.Name}; the Ntk trainer " +
                                                  "reads UInt32 keys, what MapValueToKey makes. Map the label with mlContext.Transforms.Conversion.MapValueToKey " +
                                                  "(from its values), or convert the key with mlContext.Transforms.Conversion.ConvertType(..., DataKind.UInt32).");
        if (label.Type is not KeyDataViewType)
            throw new ArgumentOutOfRangeException(nameof(labelColumn), $"The label column '{labelColumn}' is of type {label.Type}; multiclass " +
                                                  "classification needs a key type. Add mlContext.Transforms.Conversion.MapValueToKey before the trainer.");
        var classes = new List<long>();
        var rows = Read(data, label, featureColumn, cancellation, cursor =>
        {
            var getter = cursor.GetGetter<uint>(label);
            return row =>
            {
                uint key = 0;
                getter(ref key);
                if (key == 0) throw new ArgumentException($"The label column '{labelColumn}' has a missing value (key 0) at row {row}.");
                classes.Add(key - 1);
            };
        });
        return new TrainingData(rows.Features, rows.Count, rows.Length) { Classes = classes.ToArray() };
    }

    /// <summary>Reads a Boolean label (false is class 0, true class 1) and the features.</summary>
    public static TrainingData ReadBinary(IDataView data, string labelColumn, string featureColumn, CancellationToken cancellation)
    {
        var label = Column(data.Schema, labelColumn, "label");
        if (label.Type != BooleanDataViewType.Instance)
            throw new ArgumentOutOfRangeException(nameof(labelColumn), $"The label column '{labelColumn}' is of type {label.Type}; binary " +
                                                  "classification needs Boolean. Convert it with mlContext.Transforms.Conversion.ConvertType(..., DataKind.Boolean) " +
                                                  "or a CustomMapping; for more than two classes use the multiclass trainer.");
        var classes = new List<long>();
        var rows = Read(data, label, featureColumn, cancellation, cursor =>
        {
            var getter = cursor.GetGetter<bool>(label);
            return _ =>
            {
                bool value = false;
                getter(ref value);
                classes.Add(value ? 1 : 0);
            };
        });
        return new TrainingData(rows.Features, rows.Count, rows.Length) { Classes = classes.ToArray() };
    }

    /// <summary>The class names of a key-typed label: its key values as text (numbers in invariant culture), else "0" … "K−1".</summary>
    public static string[] ClassNames(DataViewSchema.Column label)
    {
        int count = checked((int)((KeyDataViewType)label.Type).Count);
        var values = label.Annotations.Schema.GetColumnOrNull("KeyValues");
        string[]? names = values?.Type is VectorDataViewType { ItemType: var item } ? item.RawType switch
        {
            var t when t == typeof(ReadOnlyMemory<char>) => KeyValues<ReadOnlyMemory<char>>(label),
            var t when t == typeof(float) => KeyValues<float>(label),
            var t when t == typeof(double) => KeyValues<double>(label),
            var t when t == typeof(int) => KeyValues<int>(label),
            var t when t == typeof(uint) => KeyValues<uint>(label),
            var t when t == typeof(long) => KeyValues<long>(label),
            var t when t == typeof(ulong) => KeyValues<ulong>(label),
            var t when t == typeof(bool) => KeyValues<bool>(label),
            _ => null,
        } : null;
        return names is { Length: var n } && n == count
            ? names
            : Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static string[] KeyValues<T>(DataViewSchema.Column label)
    {
        VBuffer<T> values = default;
        label.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(v => Convert.ToString(v is ReadOnlyMemory<char> text ? text.ToString() : v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }

    /// <summary>The column, or an error that names it and lists the columns there are.</summary>
    public static DataViewSchema.Column Column(DataViewSchema schema, string name, string role) =>
        schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(name,
            $"The data has no {role} column '{name}'; its columns are: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");

    /// <summary>Checks that the feature column holds Single values, as a scalar or a vector.</summary>
    public static DataViewSchema.Column FeatureColumn(DataViewSchema schema, string name)
    {
        var column = Column(schema, name, "feature");
        bool single = column.Type == NumberDataViewType.Single || column.Type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single;
        if (!single)
            throw new ArgumentOutOfRangeException(name, $"The feature column '{name}' is of type {column.Type}; it must be a vector of Single " +
                                                  "(float), e.g. from mlContext.Transforms.Concatenate or ExtractPixels.");
        return column;
    }

    private sealed record Rows(float[] Features, long Count, long Length);

    private static Rows Read(IDataView data, DataViewSchema.Column label, string featureColumn, CancellationToken cancellation,
                             Func<DataViewRowCursor, Action<long>> labelReader)
    {
        var feature = FeatureColumn(data.Schema, featureColumn);
        var features = new List<float>();
        long count = 0, length = feature.Type is VectorDataViewType { IsKnownSize: true } known ? known.Size : feature.Type is VectorDataViewType ? -1 : 1;
        using var cursor = data.GetRowCursor(new[] { label, feature });
        var readLabel = labelReader(cursor);
        var readFeatures = FeatureReader(cursor, feature);
        while (cursor.MoveNext())
        {
            cancellation.ThrowIfCancellationRequested();
            long row = cursor.Position;
            var values = readFeatures();
            if (length < 0) length = values.Length;
            if (values.Length != length)
                throw new ArgumentException($"The feature column '{featureColumn}' holds {values.Length} values at row {row}, but {length} before.");
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0) throw new ArgumentException($"The feature column '{featureColumn}' holds {values[bad]} at row {row}, slot {bad}; features must be finite.");
            readLabel(row);
            features.AddRange(values);
            count++;
        }
        if (count == 0) throw new ArgumentException("The training data has no rows.");
        return new Rows(features.ToArray(), count, length);
    }

    /// <summary>Reads the current row's features as a dense array, from a scalar or a vector column.</summary>
    internal static Func<float[]> FeatureReader(DataViewRow row, DataViewSchema.Column feature)
    {
        if (feature.Type is not VectorDataViewType)
        {
            var scalar = row.GetGetter<float>(feature);
            return () => { float v = 0; scalar(ref v); return new[] { v }; };
        }
        var vector = row.GetGetter<VBuffer<float>>(feature);
        VBuffer<float> buffer = default;
        return () => { vector(ref buffer); return buffer.DenseValues().ToArray(); };
    }
}
