using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk;

// network <file.pt>: PretrainedNetwork.FromTorchScript; model <model.zip> <inputs>: load a saved model and predict one row.
// Prints "loaded" or "managed <exception type>: <message>" and exits 0; a native abort ends it with its own exit code.
try
{
    if (args[0] == "network")
    {
        PretrainedNetwork.FromTorchScript(args[1]);
    }
    else
    {
        var ml = new MLContext();
        var model = ml.Model.Load(args[1], out _);
        var row = ml.Data.LoadFromEnumerable(new[] { new Row { Features = new float[int.Parse(args[2])] } });
        float score = model.Transform(row).GetColumn<float>("Score").First();
        Console.WriteLine($"score {score}");
    }
    Console.WriteLine("loaded");
}
catch (Exception ex)
{
    // ML.NET wraps what a mapping throws in a cursor's error: the whole chain, outermost first.
    for (Exception? e = ex; e is not null; e = e.InnerException) Console.WriteLine($"managed {e.GetType().Name}: {e.Message}");
}
return 0;

internal sealed class Row
{
    [VectorType]
    public float[] Features { get; set; } = Array.Empty<float>();
}
