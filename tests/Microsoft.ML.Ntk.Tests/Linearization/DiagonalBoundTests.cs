using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>The cheap diagonal bound against the exact diagonal of the explicit Jacobian.</summary>
public class DiagonalBoundTests
{
    [Theory]
    [InlineData("cnn-batchnorm")]
    [InlineData("resnet")]
    public void TheBoundIsAnUpperBoundAndNotFarAbove(string name)
    {
        var (bound, exact) = BoundAndExact(name, ParameterSelection.All);
        Assert.True((bound - exact).min().item<double>() >= -Tolerances.Float64 * exact.max().item<double>(),
                    $"{name}: the bound falls below the exact diagonal.");
        double ratio = (bound / exact).max().item<double>();
        Assert.True(ratio > 1.0 + 1e-6, $"{name}: convolution weights should make the bound strictly looser (ratio {ratio}).");
        Assert.True(ratio < 100, $"{name}: the bound is {ratio:F1} times the exact diagonal.");
    }

    [Theory]
    [InlineData("cnn-batchnorm", "1.", "5.", "10.", "11.")]   // batch norms and linear layers: exact
    [InlineData("resnet", "1.", "7.")]
    [InlineData("cnn-batchnorm", "0.bias")]                     // a convolution's bias: exact
    public void TheBoundIsExactWithoutConvolutionWeights(string name, params string[] prefixes)
    {
        var (bound, exact) = BoundAndExact(name, ParameterSelection.NamePrefixes(prefixes));
        Tolerances.AssertClose(bound, exact, Tolerances.Float64, $"{name} bound without convolution weights");
    }

    [Fact]
    public void FullyConnectedHeadsAndTorchScriptGiveTheExactDiagonal()
    {
        foreach (string name in new[] { "mlp-tanh", "torchscript-mlp" })
        {
            var (bound, exact) = BoundAndExact(name, ParameterSelection.All);
            Tolerances.AssertClose(bound, exact, Tolerances.Float64, $"{name} bound");
        }
    }

    private static (Tensor Bound, Tensor Exact) BoundAndExact(string name, ParameterSelection selection)
    {
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, selection, TangentMode.Auto, batchSize: 2);
        using var x = linearized.Prepare(test.Inputs);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        Tensor exact = j.square().sum(1).reshape(test.Inputs.shape[0], -1);
        return (linearized.KernelDiagonalBound(x), exact);
    }
}
