using Microsoft.ML.Ntk.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// A decoded model that predicts one row at a time for ML.NET's mappings. One instance serves every thread of a loaded
/// model at once, without a lock: the posterior and the network are only read by a prediction (every per-call value, the
/// prepared inputs, Jacobian rows and autograd graphs, belongs to that call), and the projected training Jacobian is built
/// once under its own lazy initialization.
/// </summary>
internal sealed class NtkPredictor
{
    private readonly InputLayout layout;
    private readonly string featureColumn;
    private readonly RegressionPosterior? regression;
    private readonly ClassificationPosterior? classification;
    private readonly string[] classNames = Array.Empty<string>();
    private readonly NtkTask task = NtkTask.Regression;
    private readonly int[] outputOfKey = Array.Empty<int>();

    public NtkPredictor(InputLayout layout, string featureColumn, RegressionPosterior posterior)
    {
        this.layout = layout;
        this.featureColumn = featureColumn;
        regression = posterior;
    }

    public NtkPredictor(InputLayout layout, string featureColumn, ClassificationPosterior posterior, string[] classNames, NtkTask task, int[] outputOfKey)
    {
        this.outputOfKey = outputOfKey;
        this.layout = layout;
        this.featureColumn = featureColumn;
        classification = posterior;
        this.classNames = classNames;
        this.task = task;
    }

    /// <summary>The predictive mean and variance (noise included) of a regression.</summary>
    public (float Mean, float Variance) PredictRegression(float[] features)
    {
        var posterior = regression ?? throw WrongTask(NtkTask.Regression);
        CheckLength(features);
        using var scope = NewDisposeScope();
        var prediction = posterior.Predict(layout.ToInputs(features, 1).to(posterior.Network.Parameters.Device));
        return ((float)prediction.Mean[0, 0].item<double>(), (float)prediction.PredictiveVariance[0, 0].item<double>());
    }

    /// <summary>
    /// Writes class probabilities and latent variances into the first K slots, in the label's key order (slot k: the output
    /// of key k + 1); returns the most probable class's name.
    /// </summary>
    public string PredictMulticlass(float[] features, float[] scores, float[] variances)
    {
        var posterior = task == NtkTask.Multiclass ? classification! : throw WrongTask(NtkTask.Multiclass);
        CheckLength(features);
        using var scope = NewDisposeScope();
        var prediction = posterior.Predict(layout.ToInputs(features, 1).to(posterior.Network.Parameters.Device));
        double[] p = prediction.Probabilities[0].cpu().data<double>().ToArray(), v = prediction.LatentVariance[0].cpu().data<double>().ToArray();
        for (int k = 0; k < outputOfKey.Length; k++)
        {
            scores[k] = (float)p[outputOfKey[k]];
            variances[k] = (float)v[outputOfKey[k]];
        }
        int best = Array.IndexOf(p, p.Max());
        return classNames[Array.IndexOf(outputOfKey, best)];
    }

    /// <summary>The log-odds' mean and variance and P(true) of a binary model.</summary>
    public (float Score, float Probability, float Variance) PredictBinary(float[] features)
    {
        var posterior = task == NtkTask.Binary ? classification! : throw WrongTask(NtkTask.Binary);
        CheckLength(features);
        using var scope = NewDisposeScope();
        var prediction = posterior.PredictBinary(layout.ToInputs(features, 1).to(posterior.Network.Parameters.Device));
        return ((float)prediction.LogOdds[0].item<double>(), (float)prediction.Probability[0].item<double>(), (float)prediction.Variance[0].item<double>());
    }

    private InvalidOperationException WrongTask(NtkTask asked) =>
        new($"This Ntk model is a {task.ToString().ToLowerInvariant()} model, not a {asked.ToString().ToLowerInvariant()} one.");

    /// <summary>The row's length, and finite values: training refuses NaN and infinity, and so does prediction.</summary>
    private void CheckLength(float[] features)
    {
        if (features.Length != layout.Length)
            throw new ArgumentException($"The Ntk model expects feature vectors of {layout.Length} values (input shape " +
                                        $"[{string.Join(", ", layout.Shape)}]); a row has {features.Length}.");
        int slot = Array.FindIndex(features, v => !float.IsFinite(v));
        if (slot >= 0)
            throw new ArgumentException($"The feature column '{featureColumn}' of a row to predict holds {features[slot]} at slot {slot}; " +
                                        "the Ntk model predicts from finite values only (as it was trained).");
    }
}
