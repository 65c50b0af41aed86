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

    /// <summary>
    /// Takes over what the posterior of the fit this predictor was decoded from already prepared for predictions
    /// (<see cref="IPosteriorVariance.AdoptPrepared"/>); called before the predictor is handed out.
    /// </summary>
    public void AdoptPrepared(IPosteriorVariance fitted) => Variance.AdoptPrepared(fitted);

    /// <summary>
    /// Predicts one all-zero row and discards it: whatever state every prediction needs and the first one forms (the
    /// posterior's kept training Jacobian, projections or layer parts) is formed by this call, through the same path.
    /// </summary>
    public void Prepare()
    {
        var zero = new float[layout.Length];
        switch (task)
        {
            case NtkTask.Regression: PredictRegression(zero); break;
            case NtkTask.Binary: PredictBinary(zero); break;
            default: PredictMulticlass(new[] { zero }); break;
        }
    }

    /// <summary>The posterior's latent variance.</summary>
    internal IPosteriorVariance Variance => regression?.Variance ?? classification!.Variance;

    /// <summary>The name of the feature column the model was trained on.</summary>
    public string FeatureColumn => featureColumn;

    /// <summary>The task the model predicts for.</summary>
    public NtkTask Task => task;

    /// <summary>The class count (multiclass), 1 otherwise.</summary>
    public int ClassCount => task == NtkTask.Multiclass ? outputOfKey.Length : 1;

    /// <summary>The predictive mean and variance (noise included) of a regression.</summary>
    public (float Mean, float Variance) PredictRegression(float[] features)
    {
        var (mean, variance) = PredictRegression(new[] { features });
        return (mean[0], variance[0]);
    }

    /// <summary>The predictive means and variances (noise included) of a regression, for rows predicted together.</summary>
    public (float[] Mean, float[] Variance) PredictRegression(IReadOnlyList<float[]> rows, long firstRow = 0)
    {
        var posterior = regression ?? throw WrongTask(NtkTask.Regression);
        using var scope = NewDisposeScope();
        var prediction = posterior.Predict(Inputs(rows, firstRow, posterior.Network.Parameters.Device));
        return (Floats(prediction.Mean.reshape(-1)), Floats(prediction.PredictiveVariance.reshape(-1)));
    }

    /// <summary>
    /// Writes class probabilities and latent variances into the first K slots, in the label's key order (slot k: the output
    /// of key k + 1); returns the most probable class's name.
    /// </summary>
    public string PredictMulticlass(float[] features, float[] scores, float[] variances)
    {
        var rows = PredictMulticlass(new[] { features });
        rows.Scores[0].CopyTo(scores, 0);
        rows.Variances[0].CopyTo(variances, 0);
        return classNames[rows.PredictedKeys[0] - 1];
    }

    /// <summary>Class probabilities and latent variances in the label's key order, and the predicted key (1-based), of each row.</summary>
    public MulticlassRows PredictMulticlass(IReadOnlyList<float[]> rows, long firstRow = 0)
    {
        var posterior = task == NtkTask.Multiclass ? classification! : throw WrongTask(NtkTask.Multiclass);
        using var scope = NewDisposeScope();
        var prediction = posterior.Predict(Inputs(rows, firstRow, posterior.Network.Parameters.Device));
        Tensor byKey = tensor(outputOfKey.Select(o => (long)o).ToArray(), device: prediction.Probabilities.device);
        Tensor p = prediction.Probabilities.index_select(1, byKey), v = prediction.LatentVariance.index_select(1, byKey);
        float[] scores = Floats(p), variances = Floats(v);
        long[] best = p.argmax(1).cpu().data<long>().ToArray();
        int k = outputOfKey.Length;
        return new MulticlassRows(Rows(scores, k), Rows(variances, k), best.Select(b => (uint)b + 1).ToArray());
    }

    /// <summary>The log-odds' mean and variance and P(true) of a binary model.</summary>
    public (float Score, float Probability, float Variance) PredictBinary(float[] features)
    {
        var (score, probability, variance) = PredictBinary(new[] { features });
        return (score[0], probability[0], variance[0]);
    }

    /// <summary>The log-odds' means and variances and P(true) of a binary model, for rows predicted together.</summary>
    public (float[] Score, float[] Probability, float[] Variance) PredictBinary(IReadOnlyList<float[]> rows, long firstRow = 0)
    {
        var posterior = task == NtkTask.Binary ? classification! : throw WrongTask(NtkTask.Binary);
        using var scope = NewDisposeScope();
        var prediction = posterior.PredictBinary(Inputs(rows, firstRow, posterior.Network.Parameters.Device));
        return (Floats(prediction.LogOdds), Floats(prediction.Probability), Floats(prediction.Variance));
    }

    /// <summary>The binary decision: true when P(true) is at least one half.</summary>
    public static bool Decide(float probability) => probability >= 0.5f;

    /// <summary>The rows as one batch of network inputs, each checked first (<paramref name="firstRow"/>: the first one's position, for errors).</summary>
    private Tensor Inputs(IReadOnlyList<float[]> rows, long firstRow, Device device)
    {
        var values = new float[rows.Count * layout.Length];
        for (int i = 0; i < rows.Count; i++)
        {
            Check(rows[i], rows.Count == 1 ? "a row" : $"the row at position {firstRow + i}");
            rows[i].CopyTo(values, i * layout.Length);
        }
        return layout.ToInputs(values, rows.Count).to(device);
    }

    private static float[] Floats(Tensor values) => values.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();

    private static float[][] Rows(float[] values, int width) =>
        Enumerable.Range(0, values.Length / width).Select(i => values.AsSpan(i * width, width).ToArray()).ToArray();

    private InvalidOperationException WrongTask(NtkTask asked) =>
        new($"This Ntk model is a {task.ToString().ToLowerInvariant()} model, not a {asked.ToString().ToLowerInvariant()} one.");

    /// <summary>The row's length, and finite values: training refuses NaN and infinity, and so does prediction.</summary>
    private void Check(float[] features, string which)
    {
        if (features.Length != layout.Length)
            throw new ArgumentException($"The Ntk model expects feature vectors of {layout.Length} values (input shape " +
                                        $"[{string.Join(", ", layout.Shape)}]); {which} has {features.Length}.");
        int slot = Array.FindIndex(features, v => !float.IsFinite(v));
        if (slot >= 0)
            throw new ArgumentException($"The feature column '{featureColumn}' of {which} to predict holds {features[slot]} at slot {slot}; " +
                                        "the Ntk model predicts from finite values only (as it was trained).");
    }
}

/// <summary>Multiclass predictions of several rows: probabilities and latent variances in key order, and the predicted key (1-based).</summary>
internal sealed record MulticlassRows(float[][] Scores, float[][] Variances, uint[] PredictedKeys);
