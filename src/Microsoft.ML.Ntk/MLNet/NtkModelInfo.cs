using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Ntk;

/// <summary>The task an Ntk model predicts for.</summary>
public enum NtkTask : byte
{
    /// <summary>Regression: Score and Variance.</summary>
    Regression = 1,

    /// <summary>Multiclass classification: Score (probabilities), PredictedLabel and Variance.</summary>
    Multiclass = 2,

    /// <summary>Binary classification: Score (log-odds), Probability, PredictedLabel and Variance.</summary>
    Binary = 3,
}

/// <summary>
/// What an Ntk model is, as saved inside it: the task, the model state's format version, the network's description, the
/// feature column, the class names (multiclass, in the label's key order), and the summary of the fit that made it
/// (strategy, hyperparameters, solver, warnings; null for models saved before the summary was stored).
/// </summary>
public sealed record NtkModelInfo(NtkTask Task, int FormatVersion, string Network, string FeatureColumn, IReadOnlyList<string> ClassNames,
                                  NtkFitSummary? FitSummary);

/// <summary>Reads what an Ntk model is, for a fitted model or one loaded with <c>mlContext.Model.Load</c>.</summary>
public static class NtkModel
{
    /// <summary>
    /// Describes the Ntk model inside <paramref name="model"/> (a fitted Ntk transformer, or any chain that holds one, such as
    /// a loaded pipeline); the first one found when there are several. Throws when the model holds none.
    /// </summary>
    public static NtkModelInfo Describe(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string state = FindState(model) ?? throw new ArgumentException("This model holds no Ntk trainer's model.", nameof(model));
        return NtkModelState.Describe(state);
    }

    /// <summary>
    /// Forms now what the first prediction of the Ntk model inside <paramref name="model"/> (a fitted model, or one loaded with
    /// <c>mlContext.Model.Load</c>; the first one found when there are several) would otherwise form: the posterior decoded from
    /// the model's state and the prediction state it keeps, such as the training Jacobian arranged by output of a softmax
    /// posterior with independent outputs (about 2.5 s for 1,000 Fashion-MNIST images of ten classes). Call it once after
    /// loading, before serving, so that the first request costs what every later one does. Predictions are unchanged; the
    /// PredictionEngines and Transform of this model use what was formed. Throws when the model holds no Ntk model.
    /// </summary>
    public static void Prepare(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var state = FindStateMemory(model) ?? throw new ArgumentException("This model holds no Ntk trainer's model.", nameof(model));
        PredictorCache.Get(state).Prepare();
    }

    /// <summary>
    /// The same model, with every Ntk model inside it predicting a whole IDataView in batches on Transform, as a fitted model
    /// does (a model loaded with <c>mlContext.Model.Load</c> is ML.NET's own transforms, which predict one row at a time).
    /// Predictions are the same within float32 rounding; PredictionEngine and saving are unchanged. A model without an Ntk
    /// part comes back as it is.
    /// </summary>
    public static ITransformer WithBatchedTransform(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is NtkTransformer or BatchedNtkModel || model is not IEnumerable<ITransformer> chain) return model;
        var parts = chain.ToList();
        if (IsNtkModel(parts)) return new BatchedNtkModel(model, FindStateMemory(model)!.Value);
        var batched = parts.Select(WithBatchedTransform).ToArray();
        return batched.SequenceEqual(parts) ? model : new TransformerChain<ITransformer>(batched);
    }

    /// <summary>
    /// Whether these are an Ntk model's own transforms (saved and loaded, they nest as [[key, state, features], predict, …]):
    /// its key mapping comes first, and a prediction mapping is one of its parts (regression, binary) or ends its first part
    /// (multiclass). A user's pipeline that holds an Ntk model is neither, and is searched part by part.
    /// </summary>
    private static bool IsNtkModel(List<ITransformer> parts) =>
        parts.Count > 1 && FirstLeaf(parts[0]) is CustomMappingTransformer<NoColumns, ModelKeyRow> &&
        (parts.Any(IsPredictionMapping) || parts[0] is IEnumerable<ITransformer> first && first.LastOrDefault() is { } last && IsPredictionMapping(last));

    private static ITransformer FirstLeaf(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain && chain.FirstOrDefault() is { } first ? FirstLeaf(first) : transformer;

    private static bool IsPredictionMapping(ITransformer transformer) =>
        transformer.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(CustomMappingTransformer<,>) &&
        type.GetGenericArguments()[0] == typeof(PredictionInput);

    private static string? FindState(ITransformer model) => FindStateMemory(model)?.ToString();

    /// <summary>
    /// The state text of the first Ntk model inside <paramref name="model"/>. For a loaded model it is the memory the model's
    /// own state lookup hands to its rows, so that the predictor decoded from it is the one its PredictionEngines use.
    /// </summary>
    internal static ReadOnlyMemory<char>? FindStateMemory(ITransformer model)
    {
        if (model is NtkTransformer fitted) return fitted.State.AsMemory();
        if (model is BatchedNtkModel batched) return batched.State;
        if (model is not IEnumerable<ITransformer> chain) return null;
        var parts = chain.ToList();
        for (int i = 0; i < parts.Count; i++)
        {
            if (parts[i] is CustomMappingTransformer<NoColumns, ModelKeyRow> && i + 1 < parts.Count) return StateAfter(parts[i], parts[i + 1]);
            if (FindStateMemory(parts[i]) is { } nested) return nested;
        }
        return null;
    }

    /// <summary>The state column the model's key mapping and state lookup give on one row of no columns.</summary>
    private static ReadOnlyMemory<char> StateAfter(ITransformer key, ITransformer lookup)
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterAssembly(typeof(NtkModel).Assembly);
        IDataView one = ml.Data.LoadFromEnumerable(new[] { new ClassNameRow() });
        return lookup.Transform(key.Transform(one)).GetColumn<ReadOnlyMemory<char>>(NtkColumns.State).First();
    }
}
