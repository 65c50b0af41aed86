using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Binary classification with a linearized pretrained network: a Bernoulli likelihood with a Laplace posterior, the prior
/// variance by the Laplace evidence (or given). Create it with <c>mlContext.BinaryClassification.Trainers.Ntk(...)</c>. The
/// label is Boolean. The network has one output, the log-odds of <c>true</c>, or two, a softmax over (false, true) in that
/// order. Output columns, as ML.NET's binary trainers: Score (Single, the posterior mean of the log-odds), Probability
/// (Single, P(true) by the probit approximation or Monte Carlo), PredictedLabel (Boolean, Probability ≥ 0.5), and Variance
/// (Single, the log-odds' posterior variance).
/// </summary>
public sealed class NtkBinaryTrainer : NtkTrainer<NtkBinaryTransformer>
{
    /// <summary>Options of the Ntk binary trainer.</summary>
    public sealed class Options : NtkClassificationOptions
    {
        internal override ClassificationLikelihood ChosenLikelihood => ClassificationLikelihood.Softmax;
    }

    private readonly Options options;

    internal NtkBinaryTrainer(IHostEnvironment? environment, Options options) : base(environment, options) => this.options = options;

    private protected override NtkBinaryTransformer Fit(IDataView input, FitRun run)
    {
        var solver = run.Solver;
        var data = TrainingData.ReadBinary(input, options.LabelColumnName, options.FeatureColumnName, run.Cancellation);
        var (summary, state) = run.Fit(data, NtkTask.Binary, Array.Empty<string>(), (network, inputs, outputs) =>
        {
            if (outputs is not (1 or 2))
                throw new ArgumentException($"The network has {outputs} outputs; binary classification of '{options.LabelColumnName}' needs one " +
                                            "(the log-odds of true) or two (softmax over false, true).");
            Tensor labels = tensor(data.Classes, dtype: ScalarType.Int64).to(network.Parameters.Device);
            var settings = SettingsMapping.Classification(options, solver);
            var posterior = GaussianProcessClassification.Fit(network, inputs, labels, settings);
            return new FitRun.Posterior(posterior.Report, stream => PosteriorSerializer.Write(stream, posterior), posterior.Variance);
        });
        var schema = new SchemaOnlyView(input.Schema);
        return new NtkBinaryTransformer(held => PredictionChain.Binary(schema, options.FeatureColumnName, held), summary, state);
    }

    private protected override SchemaShape OutputSchema(SchemaShape inputSchema) => PredictionChain.BinarySchema(inputSchema, options.FeatureColumnName);
}
