using Microsoft.ML.Ntk;
using TorchSharp;
using static TorchSharp.torch;

// Loads TorchSharp through the packaged library and runs one forward pass of a known linear map.
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
