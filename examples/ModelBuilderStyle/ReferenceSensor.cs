using System.Globalization;
using TorchSharp;

namespace Microsoft.ML.Ntk.Examples.ModelBuilderStyle;

/// <summary>
/// The data of this example, generated from seeds (nothing is downloaded): a reference sensor whose reading is
/// 2 sin(T) + 0.5 H + T H / 4 over temperature T ∈ [−2, 2] and humidity H ∈ [−1, 1] (standardized units), on which an MLP is
/// pretrained, and a new sensor of the same kind with a gain, an offset and a drift in T (the target), 40 noisy rows of
/// which make the training file.
/// </summary>
public static class ReferenceSensor
{
    public static readonly NetworkArchitecture Architecture = NetworkArchitecture.Mlp(2, new[] { 32, 32 }, 1, Activation.Tanh);

    public static double Reference(double t, double h) => 2 * Math.Sin(t) + 0.5 * h + t * h / 4;

    public static double Target(double t, double h) => 1.2 * Reference(t, h) + 0.3 + 0.25 * t;

    /// <summary>Pretrains the MLP on 1,000 reference rows (seeded) and saves its weights.</summary>
    public static void Pretrain(string weightsPath)
    {
        torch.manual_seed(1);
        var module = Architecture.CreateModule();
        var (x, y) = Rows(1000, seed: 1, Reference, noise: 0);
        var optimizer = torch.optim.Adam(module.parameters(), lr: 0.01);
        for (int step = 0; step < 800; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = (module.call(torch.tensor(x).reshape(-1, 2)) - torch.tensor(y).reshape(-1, 1)).pow(2).mean();
            loss.backward();
            optimizer.step();
        }
        module.eval();
        module.save(weightsPath);
    }

    /// <summary>Writes <paramref name="count"/> rows of the target sensor as a CSV file with a header.</summary>
    public static void WriteTargetFile(string path, int count, int seed)
    {
        var (x, y) = Rows(count, seed, Target, noise: 0.1);
        var lines = Enumerable.Range(0, count).Select(i => string.Join(",", new[] { x[2 * i], x[2 * i + 1], y[i] }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        File.WriteAllLines(path, new[] { "Temperature,Humidity,Reading" }.Concat(lines));
    }

    private static (float[] X, float[] Y) Rows(int count, int seed, Func<double, double, double> reading, double noise)
    {
        var random = new Random(seed);
        var x = new float[2 * count];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            double t = random.NextDouble() * 4 - 2, h = random.NextDouble() * 2 - 1;
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            (x[2 * i], x[2 * i + 1], y[i]) = ((float)t, (float)h, (float)(reading(t, h) + noise * gaussian));
        }
        return (x, y);
    }
}
