using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Ntk.MLNet;

// The custom mappings inside a fitted Ntk model. ML.NET saves a custom mapping by its contract name and assembly, and
// finds it again when a model is loaded, so these classes are the only code a loaded model needs besides ML.NET's own
// transforms. Their columns are internal (prefixed "__Ntk") and dropped at the end of the model.

/// <summary>The internal column names, and the class limit of multiclass models.</summary>
internal static class NtkColumns
{
    public const string ModelKey = "__NtkModelKey";
    public const string State = "__NtkState";
    public const string Features = "__NtkFeatures";
    public const string AllScores = "__NtkScores";
    public const string AllVariances = "__NtkVariances";
    public const string PredictedLabelValue = "__NtkPredictedLabel";

    /// <summary>
    /// A custom mapping's vector size is fixed when it is compiled; multiclass outputs are written into vectors of this size
    /// and cut to the class count by a saved slot selection.
    /// </summary>
    public const int MaxClasses = 1024;

    /// <summary>The one key of the state lookup.</summary>
    public const string KeyValue = "model";
}

internal sealed class NoColumns { }

internal sealed class ModelKeyRow
{
    [ColumnName(NtkColumns.ModelKey)]
    public string Key { get; set; } = NtkColumns.KeyValue;
}

/// <summary>Emits the constant key that the saved value mapping turns into the model state.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class ModelKeyMapping : CustomMappingFactory<NoColumns, ModelKeyRow>
{
    public const string Contract = "Microsoft.ML.Ntk.ModelKey";
    public override Action<NoColumns, ModelKeyRow> GetMapping() => (_, row) => row.Key = NtkColumns.KeyValue;
}

internal sealed class PredictionInput
{
    [ColumnName(NtkColumns.Features), VectorType]
    public float[] Features { get; set; } = Array.Empty<float>();

    [ColumnName(NtkColumns.State)]
    public ReadOnlyMemory<char> State { get; set; }
}

internal sealed class RegressionOutput
{
    public float Score { get; set; }
    public float Variance { get; set; }
}

/// <summary>Regression: Score (predictive mean) and Variance (predictive variance, noise included).</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class RegressionMapping : CustomMappingFactory<PredictionInput, RegressionOutput>
{
    public const string Contract = "Microsoft.ML.Ntk.Regression";

    public override Action<PredictionInput, RegressionOutput> GetMapping() => (input, output) =>
        (output.Score, output.Variance) = PredictorCache.Get(input.State).PredictRegression(input.Features);
}

internal sealed class BinaryOutput
{
    public float Score { get; set; }
    public float Probability { get; set; }
    public bool PredictedLabel { get; set; }
    public float Variance { get; set; }
}

/// <summary>Binary: Score (the log-odds' mean), Probability (P(true)), PredictedLabel (Probability ≥ 0.5) and Variance (the log-odds' variance).</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class BinaryMapping : CustomMappingFactory<PredictionInput, BinaryOutput>
{
    public const string Contract = "Microsoft.ML.Ntk.Binary";

    public override Action<PredictionInput, BinaryOutput> GetMapping() => (input, output) =>
    {
        (output.Score, output.Probability, output.Variance) = PredictorCache.Get(input.State).PredictBinary(input.Features);
        output.PredictedLabel = NtkPredictor.Decide(output.Probability);
    };
}

internal sealed class MulticlassOutput
{
    [ColumnName(NtkColumns.AllScores), VectorType(NtkColumns.MaxClasses)]
    public float[] Scores { get; set; } = new float[NtkColumns.MaxClasses];

    [ColumnName(NtkColumns.AllVariances), VectorType(NtkColumns.MaxClasses)]
    public float[] Variances { get; set; } = new float[NtkColumns.MaxClasses];

    [ColumnName(NtkColumns.PredictedLabelValue)]
    public string PredictedLabel { get; set; } = "";
}

/// <summary>Multiclass: class probabilities, each class's latent variance, and the most probable class's name.</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class MulticlassMapping : CustomMappingFactory<PredictionInput, MulticlassOutput>
{
    public const string Contract = "Microsoft.ML.Ntk.Multiclass";

    public override Action<PredictionInput, MulticlassOutput> GetMapping() => (input, output) =>
        output.PredictedLabel = PredictorCache.Get(input.State).PredictMulticlass(input.Features, output.Scores, output.Variances);
}

internal sealed class ClassNameRow
{
    [ColumnName(NtkColumns.PredictedLabelValue)]
    public string Name { get; set; } = "";
}
