using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Regression by Gaussian-process inference with a pretrained network's Jacobian as kernel: the network is linearized
/// around its pretrained weights, the posterior over the adapted parameters is computed analytically, and every
/// prediction comes with a variance. Create it with <c>mlContext.Regression.Trainers.Ntk(...)</c>. Output columns:
/// Score (Single: the predictive mean) and Variance (Single: the predictive variance, noise included).
/// </summary>
public sealed class NtkRegressionTrainer : NtkTrainer<NtkRegressionTransformer>
{
    /// <summary>Options of the Ntk regression trainer.</summary>
    public sealed class Options : NtkTrainerOptions { }

    internal NtkRegressionTrainer(IHostEnvironment? environment, Options options) : base(environment, options) { }

    private protected override NtkRegressionTransformer Fit(IDataView input, FitRun run)
    {
        var options = TrainerOptions;
        var solver = run.Solver;
        var data = TrainingData.ReadRegression(input, options.LabelColumnName, options.FeatureColumnName, run.Cancellation);
        var (summary, state) = run.Fit(data, NtkTask.Regression, Array.Empty<string>(), (network, inputs, outputs) =>
        {
            if (outputs != 1)
                throw new ArgumentException($"The network has {outputs} outputs; regression on the single label '{options.LabelColumnName}' needs one.");
            Tensor targets = tensor(data.Targets, dtype: ScalarType.Float32).to(ScalarType.Float64).reshape(data.Count, 1).to(network.Parameters.Device);
            var posterior = GaussianProcessRegression.Fit(network, inputs, targets, SettingsMapping.Regression(options, solver));
            return new FitRun.Posterior(posterior.Report, stream => PosteriorSerializer.Write(stream, posterior), posterior.Variance);
        });
        var schema = new SchemaOnlyView(input.Schema);
        return new NtkRegressionTransformer(held => PredictionChain.Regression(schema, options.FeatureColumnName, held), summary, state);
    }

    private protected override SchemaShape OutputSchema(SchemaShape inputSchema) =>
        PredictionChain.RegressionSchema(inputSchema, TrainerOptions.FeatureColumnName);
}
