using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// Builds a fitted model out of ML.NET's own saveable transforms, since ML.NET's save context is closed to other
/// assemblies: a custom mapping emits a constant key; a value mapping turns it into the model state (text); the
/// features are concatenated into one vector; a custom mapping predicts; for multiclass, a saved slot selection cuts the
/// outputs to the class count and a value-to-key mapping gives PredictedLabel the training label's key values; the
/// internal columns are dropped.
/// </summary>
internal static class PredictionChain
{
    public static ITransformer Regression(IDataView data, string featureColumn, string state) =>
        RegressionEstimator(NewContext(), featureColumn, state).Fit(data);

    /// <summary>The schema a regression model gives (the model's own transforms, unfitted, describe it).</summary>
    public static SchemaShape RegressionSchema(SchemaShape input, string featureColumn) =>
        RegressionEstimator(NewContext(), featureColumn, state: "").GetOutputSchema(input);

    /// <summary>The schema a multiclass model gives: the same transforms, with a placeholder slot selection and class list.</summary>
    public static SchemaShape MulticlassSchema(SchemaShape input, string featureColumn)
    {
        var ml = NewContext();
        var names = ml.Data.LoadFromEnumerable(new[] { new ClassNameRow { Name = "0" } });
        return Prefix(ml, featureColumn, state: "")
            .Append(ml.Transforms.CustomMapping(new MulticlassMapping().GetMapping(), MulticlassMapping.Contract))
            .Append(ml.Transforms.FeatureSelection.SelectFeaturesBasedOnCount(OutputPairs, count: 1))
            .Append(ml.Transforms.Conversion.MapValueToKey("PredictedLabel", NtkColumns.PredictedLabelValue, keyData: names))
            .Append(ml.Transforms.DropColumns(InternalMulticlassColumns))
            .GetOutputSchema(input);
    }

    private static IEstimator<ITransformer> RegressionEstimator(MLContext ml, string featureColumn, string state) =>
        OneMapping(ml, featureColumn, state, new RegressionMapping(), RegressionMapping.Contract);

    public static ITransformer Binary(IDataView data, string featureColumn, string state) =>
        BinaryEstimator(NewContext(), featureColumn, state).Fit(data);

    /// <summary>The schema a binary model gives.</summary>
    public static SchemaShape BinarySchema(SchemaShape input, string featureColumn) =>
        BinaryEstimator(NewContext(), featureColumn, state: "").GetOutputSchema(input);

    private static IEstimator<ITransformer> BinaryEstimator(MLContext ml, string featureColumn, string state) =>
        OneMapping(ml, featureColumn, state, new BinaryMapping(), BinaryMapping.Contract);

    /// <summary>The state prefix, one prediction mapping whose output columns are the model's, and the internal columns dropped.</summary>
    private static IEstimator<ITransformer> OneMapping<TOutput>(MLContext ml, string featureColumn, string state,
                                                               Microsoft.ML.Transforms.CustomMappingFactory<PredictionInput, TOutput> mapping, string contract)
        where TOutput : class, new() =>
        Prefix(ml, featureColumn, state)
            .Append(ml.Transforms.CustomMapping(mapping.GetMapping(), contract))
            .Append(ml.Transforms.DropColumns(NtkColumns.ModelKey, NtkColumns.State, NtkColumns.Features));

    private static readonly InputOutputColumnPair[] OutputPairs =
        { new("Score", NtkColumns.AllScores), new("Variance", NtkColumns.AllVariances) };

    private static readonly string[] InternalMulticlassColumns =
    {
        NtkColumns.ModelKey, NtkColumns.State, NtkColumns.Features, NtkColumns.AllScores, NtkColumns.AllVariances, NtkColumns.PredictedLabelValue,
    };

    public static ITransformer Multiclass(IDataView data, string featureColumn, string state, string[] classNames)
    {
        var ml = NewContext();
        var predict = Prefix(ml, featureColumn, state)
            .Append(ml.Transforms.CustomMapping(new MulticlassMapping().GetMapping(), MulticlassMapping.Contract))
            .Fit(data);
        var select = ml.Transforms.FeatureSelection.SelectFeaturesBasedOnCount(OutputPairs, count: 1).Fit(ClassMask(ml, classNames.Length));
        var names = ml.Data.LoadFromEnumerable(classNames.Select(n => new ClassNameRow { Name = n }));
        var toKey = ml.Transforms.Conversion.MapValueToKey("PredictedLabel", NtkColumns.PredictedLabelValue, keyData: names).Fit(names);
        var upToKey = toKey.Transform(select.Transform(predict.Transform(data)));
        var drop = ml.Transforms.DropColumns(InternalMulticlassColumns).Fit(upToKey);
        return new TransformerChain<ITransformer>(predict, select, toKey, drop);
    }

    private static MLContext NewContext()
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterAssembly(typeof(PredictionChain).Assembly);
        return ml;
    }

    private static IEstimator<ITransformer> Prefix(MLContext ml, string featureColumn, string state) =>
        ml.Transforms.CustomMapping(new ModelKeyMapping().GetMapping(), ModelKeyMapping.Contract)
            .Append(ml.Transforms.Conversion.MapValue(NtkColumns.State, new[] { KeyValuePair.Create(NtkColumns.KeyValue, state) }, NtkColumns.ModelKey))
            .Append(ml.Transforms.Concatenate(NtkColumns.Features, featureColumn));

    /// <summary>One row whose first <paramref name="classes"/> slots are non-zero: selecting slots by count keeps exactly those.</summary>
    private static IDataView ClassMask(MLContext ml, int classes)
    {
        var mask = new MulticlassOutput();
        Array.Fill(mask.Scores, 1f, 0, classes);
        Array.Fill(mask.Variances, 1f, 0, classes);
        return ml.Data.LoadFromEnumerable(new[] { mask });
    }
}
