using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk;

/// <summary>
/// The Ntk trainers in ML.NET's catalogs: <c>mlContext.Regression.Trainers.Ntk(...)</c>,
/// <c>mlContext.BinaryClassification.Trainers.Ntk(...)</c> and <c>mlContext.MulticlassClassification.Trainers.Ntk(...)</c>.
/// </summary>
public static class NtkCatalog
{
    /// <summary>Adapts a pretrained network to a regression task by Gaussian-process inference with its Jacobian kernel.</summary>
    public static NtkRegressionTrainer Ntk(this RegressionCatalog.RegressionTrainers catalog, NtkRegressionTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NtkRegressionTrainer(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>Adapts a pretrained network to a regression task with the default options.</summary>
    public static NtkRegressionTrainer Ntk(this RegressionCatalog.RegressionTrainers catalog, PretrainedNetwork network,
                                           string labelColumnName = "Label", string featureColumnName = "Features") =>
        catalog.Ntk(new NtkRegressionTrainer.Options { Network = network, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName });

    /// <summary>Adapts a pretrained network to a multiclass task (softmax likelihood, Laplace posterior by default).</summary>
    public static NtkMulticlassTrainer Ntk(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, NtkMulticlassTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NtkMulticlassTrainer(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>Adapts a pretrained network to a multiclass task with the default options.</summary>
    public static NtkMulticlassTrainer Ntk(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, PretrainedNetwork network,
                                           string labelColumnName = "Label", string featureColumnName = "Features") =>
        catalog.Ntk(new NtkMulticlassTrainer.Options { Network = network, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName });

    /// <summary>Adapts a pretrained network to a binary task with a Boolean label (Bernoulli likelihood, Laplace posterior).</summary>
    public static NtkBinaryTrainer Ntk(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, NtkBinaryTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NtkBinaryTrainer(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>Adapts a pretrained network to a binary task with the default options.</summary>
    public static NtkBinaryTrainer Ntk(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, PretrainedNetwork network,
                                       string labelColumnName = "Label", string featureColumnName = "Features") =>
        catalog.Ntk(new NtkBinaryTrainer.Options { Network = network, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName });
}
