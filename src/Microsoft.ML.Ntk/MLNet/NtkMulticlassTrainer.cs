using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Multiclass classification with a linearized pretrained network: a softmax likelihood with a Laplace posterior (the
/// default) or Gaussian regression on one-hot labels. Create it with <c>mlContext.MulticlassClassification.Trainers.Ntk(...)</c>.
/// Output columns: Score (known-size vector of class probabilities), PredictedLabel (the label's key type and key values)
/// and Variance (each class's latent variance). The network's output size must equal the label's class count (at most 1024).
/// </summary>
public sealed class NtkMulticlassTrainer : NtkTrainer<NtkMulticlassTransformer>
{
    /// <summary>Options of the Ntk multiclass trainer.</summary>
    public sealed class Options : NtkClassificationOptions
    {
        /// <summary>Softmax (Laplace posterior, the default) or Gaussian (regression on one-hot labels, fastest).</summary>
        public ClassificationLikelihood Likelihood = ClassificationLikelihood.Softmax;

        /// <summary>
        /// The network's class names in output order (output 0 first). When given, each of the label's key values is matched
        /// to the output of the same name, whatever order MapValueToKey gave the keys. Null: output i is the label's key i + 1
        /// (its i-th key value), and a label numbered 0 … K−1 or 1 … K in another order is refused.
        /// </summary>
        public string[]? OutputClassNames;

        internal override ClassificationLikelihood ChosenLikelihood => Likelihood;

        internal override void Validate()
        {
            CheckDefined(Likelihood, nameof(Likelihood));
            base.Validate();
        }
    }

    private readonly Options options;

    internal NtkMulticlassTrainer(IHostEnvironment? environment, Options options) : base(environment, options) => this.options = options;

    private protected override NtkMulticlassTransformer Fit(IDataView input, FitRun run)
    {
        var solver = run.Solver;
        var data = TrainingData.ReadMulticlass(input, options.LabelColumnName, options.FeatureColumnName, run.Cancellation);
        string[] classNames = TrainingData.ClassNames(input.Schema[options.LabelColumnName]);
        if (classNames.Length > NtkColumns.MaxClasses)
            throw new ArgumentException($"The label '{options.LabelColumnName}' has {classNames.Length} classes; the Ntk trainer supports up to {NtkColumns.MaxClasses}.");
        int[] outputOfKey = ClassOrder.Resolve(classNames, options.OutputClassNames, options.LabelColumnName);
        var (summary, state) = run.Fit(data, NtkTask.Multiclass, classNames, (network, inputs, outputs) =>
        {
            if (outputs != classNames.Length)
                throw new ArgumentException($"The label '{options.LabelColumnName}' has {classNames.Length} classes, but the network has {outputs} outputs; " +
                                            "they must be equal (one output per class; OutputClassNames says which is which).");
            Tensor labels = tensor(data.Classes.Select(k => (long)outputOfKey[k]).ToArray(), dtype: ScalarType.Int64).to(network.Parameters.Device);
            var settings = SettingsMapping.Classification(options, solver);
            var posterior = GaussianProcessClassification.Fit(network, inputs, labels, settings);
            return new FitRun.Posterior(posterior.Report, stream => PosteriorSerializer.Write(stream, posterior), posterior.Variance);
        }, outputOfKey);
        var schema = new SchemaOnlyView(input.Schema);
        return new NtkMulticlassTransformer(held => PredictionChain.Multiclass(schema, options.FeatureColumnName, held, classNames), summary, state);
    }

    private protected override SchemaShape OutputSchema(SchemaShape inputSchema) => PredictionChain.MulticlassSchema(inputSchema, options.FeatureColumnName);
}
