using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;
using TorchSharp;
using static TorchSharp.torch;

// A user's application of the packed package. Three modes, each its own process in eng/check-package.sh:
//   (none)       TorchSharp loads through the package: one forward pass of a known linear map.
//   save DIR     fits a regression and a multiclass Ntk model through ML.NET pipelines, saves both .zip files and
//                writes their predictions (as bit patterns) to DIR/expected.txt.
//   load DIR     loads the .zip files in this fresh process and checks that its predictions are bit-identical.
return args switch
{
    [] => ForwardPass(),
    ["save", var dir] => Save(dir),
    ["load", var dir] => Load(dir),
    _ => Usage(),
};

static int ForwardPass()
{
    TorchSharpLoader.EnsureLoaded();
    var layer = nn.Linear(2, 1, dtype: ScalarType.Float64);
    using (no_grad())
    {
        layer.weight!.copy_(tensor(new double[] { 2, -3 }, dtype: ScalarType.Float64).reshape(1, 2));
        layer.bias!.copy_(tensor(new double[] { 0.5 }, dtype: ScalarType.Float64));
    }
    double output = layer.forward(tensor(new double[] { 1.5, 4 }, dtype: ScalarType.Float64)).item<double>();
    const double expected = 2 * 1.5 - 3 * 4 + 0.5;
    Console.WriteLine($"package consumer: forward pass gave {output}, expected {expected}");
    return output == expected ? 0 : 1;
}

static int Save(string dir)
{
    Directory.CreateDirectory(dir);
    var ml = new MLContext(seed: 1);
    var architecture = NetworkArchitecture.Mlp(2, new[] { 12 }, 3, Activation.Tanh);
    manual_seed(7);
    string weights = Path.Combine(dir, "mlp.bin");
    var module = nn.Sequential(nn.Linear(2, 12), nn.Tanh(), nn.Linear(12, 3));
    module.save(weights);
    var network = PretrainedNetwork.FromArchitecture(architecture, weights);
    var scalarWeights = Path.Combine(dir, "mlp1.bin");
    nn.Sequential(nn.Linear(2, 12), nn.Tanh(), nn.Linear(12, 1)).save(scalarWeights);
    var scalar = PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(2, new[] { 12 }, 1, Activation.Tanh), scalarWeights);

    var train = ml.Data.LoadFromEnumerable(Data.Rows(40, seed: 1));
    var regression = ml.Transforms.Concatenate("Features", "A", "B").Append(ml.Regression.Trainers.Ntk(scalar)).Fit(train);
    var multiclass = ml.Transforms.Concatenate("Features", "A", "B").Append(ml.Transforms.Conversion.MapValueToKey("Label", "Class"))
        .Append(ml.MulticlassClassification.Trainers.Ntk(network)).Fit(train);
    ml.Model.Save(regression, train.Schema, Path.Combine(dir, "regression.zip"));
    ml.Model.Save(multiclass, train.Schema, Path.Combine(dir, "multiclass.zip"));
    File.WriteAllLines(Path.Combine(dir, "expected.txt"), Data.Predictions(ml, regression, multiclass));
    Console.WriteLine($"package consumer: saved two models to {dir}");
    return 0;
}

static int Load(string dir)
{
    var ml = new MLContext();
    var regression = ml.Model.Load(Path.Combine(dir, "regression.zip"), out _);
    var multiclass = ml.Model.Load(Path.Combine(dir, "multiclass.zip"), out _);
    var expected = File.ReadAllLines(Path.Combine(dir, "expected.txt"));
    var actual = Data.Predictions(ml, regression, multiclass);
    bool same = expected.SequenceEqual(actual);
    Console.WriteLine($"package consumer: {actual.Length} predictions of the loaded models are {(same ? "bit-identical" : "DIFFERENT")} to the saving process's");
    return same ? 0 : 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: PackageConsumer [save DIR | load DIR]");
    return 2;
}

sealed class Row
{
    public float A { get; set; }
    public float B { get; set; }
    public float Label { get; set; }
    public string Class { get; set; } = "";
}

static class Data
{
    public static Row[] Rows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            float a = (float)(random.NextDouble() * 4 - 2), b = (float)(random.NextDouble() * 4 - 2);
            return new Row { A = a, B = b, Label = (float)Math.Sin(2 * a) + 0.5f * b, Class = a > 0 ? "right" : b > 0 ? "up" : "down" };
        }).ToArray();
    }

    /// <summary>Score and Variance of both models on fixed inputs, one line per row, as bit patterns.</summary>
    public static string[] Predictions(MLContext ml, ITransformer regression, ITransformer multiclass)
    {
        var test = ml.Data.LoadFromEnumerable(Rows(25, seed: 2));
        static string Bits(IEnumerable<float> values) => string.Join(",", values.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8")));
        var r = regression.Transform(test);
        var m = multiclass.Transform(test);
        var scores = r.GetColumn<float>("Score").Zip(r.GetColumn<float>("Variance"), (s, v) => Bits(new[] { s, v }));
        var classes = m.GetColumn<VBuffer<float>>("Score").Zip(m.GetColumn<VBuffer<float>>("Variance"),
                                                               (s, v) => Bits(s.DenseValues()) + " " + Bits(v.DenseValues()));
        return scores.Zip(classes, (a, b) => a + " " + b).ToArray();
    }
}
