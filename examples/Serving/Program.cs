using Microsoft.ML.Ntk.Examples.Serving;

// Serves a saved Ntk regression model over HTTP:
//   dotnet run --project examples/Serving -- [--model path/to/model.zip] [--urls http://127.0.0.1:5080]
// Without --model it first fits and saves a small demo model (seconds). Then:
//   curl -s -X POST http://127.0.0.1:5080/predict -H 'Content-Type: application/json' -d '{"features":[0.5,0.2]}'
int at = Array.IndexOf(args, "--model");
string model = at >= 0 && at + 1 < args.Length ? args[at + 1] : DemoModel.Create(Path.Combine(AppContext.BaseDirectory, "cache"));
var rest = at >= 0 ? args.Where((_, i) => i != at && i != at + 1).ToArray() : args;
if (!rest.Contains("--urls")) rest = rest.Concat(new[] { "--urls", "http://127.0.0.1:5080" }).ToArray();
// Requests supply the parallelism: libtorch's own intra-op threads would compete with them for the cores.
TorchSharp.torch.set_num_threads(1);
var app = ServingApp.Build(model, rest);
Console.WriteLine($"Serving {model}; POST /predict with {{\"features\": [...]}}, GET /model for the fit summary.");
app.Run();
