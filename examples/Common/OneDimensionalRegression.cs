using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>A labelled point of a one-dimensional regression task, as ML.NET reads it.</summary>
public sealed class Point
{
    public float X { get; set; }
    public float Label { get; set; }
}

/// <summary>What the Ntk regression trainer adds to a row.</summary>
public sealed class Prediction
{
    public float Score { get; set; }
    public float Variance { get; set; }
}

/// <summary>Predictions of one method on a test set: means and predictive variances.</summary>
public sealed record Predictive(double[] Mean, double[] Variance);

/// <summary>Scoring helpers for one-dimensional regression tasks, shared by the QuickStart and the sinusoid experiment.</summary>
public static class OneDimensionalRegression
{
    /// <summary>An Ntk model's Score and Variance on the points.</summary>
    public static Predictive Score(MLContext ml, ITransformer model, Point[] points)
    {
        var rows = ml.Data.CreateEnumerable<Prediction>(model.Transform(ml.Data.LoadFromEnumerable(points)), reuseRowObject: false).ToArray();
        return new Predictive(rows.Select(r => (double)r.Score).ToArray(), rows.Select(r => (double)r.Variance).ToArray());
    }

    /// <summary>
    /// A network without uncertainty of its own (pretrained or fine-tuned): its outputs, with the variance of its training
    /// residuals (at least 1e-6) as a constant predictive variance, so that its NLL can be reported at all.
    /// </summary>
    public static Predictive Deterministic(nn.Module<Tensor, Tensor> module, Point[] train, Point[] test)
    {
        double[] fit = Outputs(module, train);
        double residual = Math.Max(fit.Zip(train, (f, p) => (f - p.Label) * (f - p.Label)).Average(), 1e-6);
        double[] mean = Outputs(module, test);
        return new Predictive(mean, Enumerable.Repeat(residual, mean.Length).ToArray());
    }

    /// <summary>Fine-tunes a copy of the pretrained module on the points with Adam (all weights, or those under a prefix).</summary>
    public static nn.Module<Tensor, Tensor> FineTune(NetworkArchitecture architecture, string weights, Point[] train, int steps, double learningRate,
                                                     string? onlyPrefix = null)
    {
        var module = Load(architecture, weights);
        Training.Regression(module, Inputs(train), tensor(train.Select(p => p.Label).ToArray()).reshape(-1, 1), steps, learningRate, onlyPrefix);
        return module;
    }

    public static nn.Module<Tensor, Tensor> Load(NetworkArchitecture architecture, string weights)
    {
        var module = architecture.CreateModule();
        module.load(weights);
        module.eval();
        return module;
    }

    public static double[] Truth(Point[] points) => points.Select(p => (double)p.Label).ToArray();

    public static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static Tensor Inputs(Point[] points) => tensor(points.Select(p => p.X).ToArray()).reshape(-1, 1);

    private static double[] Outputs(nn.Module<Tensor, Tensor> module, Point[] points) =>
        Training.Predict(module, Inputs(points)).to(ScalarType.Float64).data<double>().ToArray();
}
