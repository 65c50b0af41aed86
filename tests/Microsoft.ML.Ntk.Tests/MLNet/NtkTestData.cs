using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

public sealed class RegressionRow
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public float Label { get; set; }
}

public sealed class ClassRow
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public string Class { get; set; } = "";
}

public sealed class BinaryRow
{
    [VectorType(2)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public bool Label { get; set; }
}

public sealed class RegressionScore
{
    public float Score { get; set; }
    public float Variance { get; set; }
}

/// <summary>Small networks saved as weights files, and data sets drawn from seeds, for the ML.NET tests.</summary>
internal static class NtkTestData
{
    /// <summary>An MLP 2-16-outputs (tanh) with seeded random weights, saved in TorchSharp's format and loaded back.</summary>
    public static PretrainedNetwork Mlp(TemporaryFolder folder, int outputs, int seed = 1, int inputs = 2, int hidden = 16)
    {
        var architecture = NetworkArchitecture.Mlp(inputs, new[] { hidden }, outputs, Activation.Tanh);
        manual_seed(seed);
        var module = architecture.Build();
        string path = Path.Combine(folder.Path, $"mlp-{inputs}-{hidden}-{outputs}-{seed}.bin");
        module.save(path);
        return PretrainedNetwork.FromArchitecture(architecture, path);
    }

    /// <summary>y = sin(2 x0) + 0.5 x1 + noise, x uniform in [-2, 2]².</summary>
    public static RegressionRow[] Regression(int count, int seed, double noise = 0.05)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            float a = (float)(random.NextDouble() * 4 - 2), b = (float)(random.NextDouble() * 4 - 2);
            return new RegressionRow { Features = new[] { a, b }, Label = (float)(Math.Sin(2 * a) + 0.5 * b + noise * Gaussian(random)) };
        }).ToArray();
    }

    /// <summary>Three classes by the angle of x in the plane ("east", "north", "west"), with a few labels flipped.</summary>
    public static ClassRow[] Classes(int count, int seed)
    {
        var random = new Random(seed);
        string[] names = { "east", "north", "west" };
        return Enumerable.Range(0, count).Select(_ =>
        {
            float a = (float)(random.NextDouble() * 4 - 2), b = (float)(random.NextDouble() * 4 - 2);
            int c = b < -0.3 * Math.Abs(a) ? 1 : a > 0 ? 0 : 2;
            if (random.NextDouble() < 0.05) c = random.Next(3);
            return new ClassRow { Features = new[] { a, b }, Class = names[c] };
        }).ToArray();
    }

    /// <summary>True above the line x1 = 0.6 x0 − 0.2, with a few labels flipped.</summary>
    public static BinaryRow[] Binary(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            float a = (float)(random.NextDouble() * 4 - 2), b = (float)(random.NextDouble() * 4 - 2);
            bool label = b > 0.6 * a - 0.2;
            if (random.NextDouble() < 0.05) label = !label;
            return new BinaryRow { Features = new[] { a, b }, Label = label };
        }).ToArray();
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
