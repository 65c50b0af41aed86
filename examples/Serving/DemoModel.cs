using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Microsoft.ML.Ntk.Examples.Serving;

/// <summary>
/// A model to serve when none is given: a small tanh MLP pretrained on y = sin(2 a) + b, adapted by Ntk to
/// y = 1.5 sin(2 a + 0.5) + b from 30 noisy points, saved as a .zip. Seeded, so every run gives the same file.
/// </summary>
public static class DemoModel
{
    private sealed class Row
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public float Label { get; set; }
    }

    public static string Create(string folder)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "demo-regression.zip");
        if (File.Exists(path)) return path;
        var architecture = NetworkArchitecture.Mlp(2, new[] { 32, 32 }, 1, Activation.Tanh);
        torch.manual_seed(1);
        var module = architecture.CreateModule();
        Pretrain(module);
        string weights = Path.Combine(folder, "demo-mlp.bin");
        module.save(weights);

        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(30, seed: 2, (a, b) => 1.5 * Math.Sin(2 * a + 0.5) + b, noise: 0.1));
        var model = ml.Regression.Trainers.Ntk(PretrainedNetwork.FromArchitecture(architecture, weights)).Fit(train);
        ml.Model.Save(model, train.Schema, path);
        return path;
    }

    private static void Pretrain(torch.nn.Module module)
    {
        var callable = (torch.nn.Module<torch.Tensor, torch.Tensor>)module;
        var rows = Rows(500, seed: 1, (a, b) => Math.Sin(2 * a) + b, noise: 0);
        var x = torch.tensor(rows.SelectMany(r => r.Features).ToArray()).reshape(rows.Length, 2);
        var y = torch.tensor(rows.Select(r => r.Label).ToArray()).reshape(rows.Length, 1);
        var optimizer = torch.optim.Adam(module.parameters(), lr: 0.01);
        for (int step = 0; step < 500; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = (callable.call(x) - y).pow(2).mean();
            loss.backward();
            optimizer.step();
        }
        module.eval();
    }

    private static Row[] Rows(int count, int seed, Func<double, double, double> target, double noise)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double a = random.NextDouble() * 4 - 2, b = random.NextDouble() * 2 - 1;
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return new Row { Features = new[] { (float)a, (float)b }, Label = (float)(target(a, b) + noise * gaussian) };
        }).ToArray();
    }
}
