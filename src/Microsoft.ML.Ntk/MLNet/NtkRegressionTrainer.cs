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
public sealed class NtkRegressionTrainer : IEstimator<NtkRegressionTransformer>
{
    /// <summary>Options of the Ntk regression trainer.</summary>
    public sealed class Options : NtkTrainerOptions { }

    private readonly IHostEnvironment? environment;
    private readonly Options options;

    internal NtkRegressionTrainer(IHostEnvironment? environment, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.environment = environment;
        this.options = options;
    }

    /// <summary>Reads the training rows, fits the posterior and returns the model.</summary>
    public NtkRegressionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var run = new FitRun(environment, nameof(NtkRegressionTrainer), options);
        var solver = run.Solver;
        run.Report(NtkFitStage.ReadingData, $"Reading '{options.LabelColumnName}' and '{options.FeatureColumnName}'.");
        var data = TrainingData.ReadRegression(input, options.LabelColumnName, options.FeatureColumnName, run.Cancellation);
        var (summary, state) = run.Fit(data, NtkTask.Regression, Array.Empty<string>(), (network, inputs, outputs) =>
        {
            if (outputs != 1)
                throw new ArgumentException($"The network has {outputs} outputs; regression on the single label '{options.LabelColumnName}' needs one.");
            Tensor targets = tensor(data.Targets, dtype: ScalarType.Float32).to(ScalarType.Float64).reshape(data.Count, 1).to(network.Parameters.Device);
            var settings = new RegressionSettings(options.Mean, options.PriorVariance, options.NoiseVariance, options.Strategy, solver, Seed: options.Seed,
                                                  IndependentOutputs: options.IndependentOutputs, NoiseFloor: options.NoiseVarianceFloor);
            var posterior = GaussianProcessRegression.Fit(network, inputs, targets, settings);
            return new FitRun.Posterior(posterior.Report, stream => PosteriorSerializer.Write(stream, posterior));
        });
        return new NtkRegressionTransformer(PredictionChain.Regression(input, options.FeatureColumnName, state), summary, state);
    }

    /// <summary>The input columns plus Score and Variance; throws when the label or feature column is missing.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        FitRun.CheckColumns(inputSchema, options);
        return PredictionChain.RegressionSchema(inputSchema, options.FeatureColumnName);
    }
}
