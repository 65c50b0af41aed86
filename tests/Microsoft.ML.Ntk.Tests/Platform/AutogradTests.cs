using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Platform;

public class AutogradTests
{
    public AutogradTests() => TorchSharpLoader.EnsureLoaded();

    [Fact]
    public void BackwardGivesTheKnownGradientOfATinyFunction()
    {
        // f(x) = sum(x^3 + sin x)  =>  df/dx = 3x^2 + cos x
        double[] values = { -1.5, -0.25, 0.0, 0.75, 2.0 };
        using var scope = NewDisposeScope();
        var x = tensor(values, dtype: ScalarType.Float64).requires_grad_(true);
        var f = (x.pow(3) + x.sin()).sum();
        f.backward();
        double[] gradient = x.grad!.data<double>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(3 * values[i] * values[i] + Math.Cos(values[i]), gradient[i], 1e-12);
        Assert.Equal(values.Sum(v => v * v * v + Math.Sin(v)), f.item<double>(), 1e-12);
    }

    [Fact]
    public void ALinearLayersParameterGradientsAreTheOuterProduct()
    {
        // L = 0.5 |W a + b|^2  =>  dL/dW = r a^T, dL/db = r with r = W a + b
        using var scope = NewDisposeScope();
        var layer = nn.Linear(3, 2, dtype: ScalarType.Float64);
        using (no_grad())
        {
            layer.weight!.copy_(tensor(new double[] { 1, -2, 0.5, 0.25, 3, -1 }, dtype: ScalarType.Float64).reshape(2, 3));
            layer.bias!.copy_(tensor(new double[] { 0.1, -0.2 }, dtype: ScalarType.Float64));
        }
        var a = tensor(new double[] { 2, 1, -4 }, dtype: ScalarType.Float64);
        var output = layer.forward(a);
        (0.5 * output.square().sum()).backward();

        double[] r = { 1 * 2 - 2 * 1 + 0.5 * -4 + 0.1, 0.25 * 2 + 3 * 1 - 1 * -4 - 0.2 };
        double[] expectedWeightGradient = { r[0] * 2, r[0] * 1, r[0] * -4, r[1] * 2, r[1] * 1, r[1] * -4 };
        Assert.Equal(expectedWeightGradient, layer.weight!.grad!.data<double>().ToArray());
        Assert.Equal(r, layer.bias!.grad!.data<double>().ToArray());
    }
}
