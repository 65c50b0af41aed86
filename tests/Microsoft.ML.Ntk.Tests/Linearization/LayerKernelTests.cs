using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>
/// The kernel summed layer by layer (factored parts for fully connected layers on vectors, per-example gradients for the
/// rest) against J Jᵀ of the explicit row-by-row Jacobian, whole and as its C diagonal blocks, on every test network.
/// </summary>
public class LayerKernelTests
{
    public static TheoryData<string> Networks() => new(TestNetworks.Names);

    [Theory, MemberData(nameof(Networks))]
    public void TheLayerKernelAndItsBlocksMatchTheExplicitJacobian(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);   // several batches
        using var x = linearized.Prepare(test.Inputs);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        Tensor expected = j.matmul(j.t());
        long n = test.Inputs.shape[0], c = expected.shape[0] / n;
        Tensor expectedBlocks = expected.reshape(n, c, n, c).diagonal(0, 1, 3).permute(2, 0, 1);

        Tolerances.AssertClose(linearized.GenericKernel(x, x), expected, Tolerances.Float64, $"{name} kernel");
        Tolerances.AssertClose(linearized.KernelBlocks(x), expectedBlocks, Tolerances.Float64, $"{name} kernel blocks");
    }

    /// <summary>A layer used twice: the layer sums would miss the cross terms between its uses, so J is formed instead.</summary>
    [Fact]
    public void ALayerUsedTwiceGivesTheKernelOfTheExplicitJacobian()
    {
        using var scope = NewDisposeScope();
        manual_seed(31);
        var shared = nn.Linear(3, 3);
        var network = nn.Sequential(shared, nn.Tanh(), shared, nn.Tanh(), nn.Linear(3, 2));
        network.to(ScalarType.Float64);
        network.eval();
        Tensor inputs = randn(5, 3, dtype: ScalarType.Float64);
        var linearized = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        using var x = linearized.Prepare(inputs);
        Tensor j = ReferenceJacobian.ByRows(network, inputs, linearized.Parameters.Tensors);
        Tensor expected = j.matmul(j.t());
        Tolerances.AssertClose(linearized.GenericKernel(x, x), expected, Tolerances.Float64, "shared layer kernel");
        Tolerances.AssertClose(linearized.KernelBlocks(x), expected.reshape(5, 2, 5, 2).diagonal(0, 1, 3).permute(2, 0, 1), Tolerances.Float64,
                               "shared layer kernel blocks");
    }

    [Fact]
    public void AFullyConnectedLayerAfterConvolutionsHasAFactoredPartAndTheConvolutionsDoNot()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All);
        using var x = linearized.Prepare(test.Inputs);
        Assert.True(linearized.HasKnownLayers);
        Assert.False(linearized.HasStructuredKernel(x));      // the whole-head structure does not apply; the layer parts do
        var linear = new Microsoft.ML.Ntk.Linearization.Layers.LinearRule();
        var layer = test.Network.modules().OfType<TorchSharp.Modules.Linear>().Last();
        var adapted = LayerSignals.IsAdapted(linearized.Parameters);
        Assert.NotNull(linear.FactoredKernel(layer, zeros(3, layer.weight!.shape[1], dtype: ScalarType.Float64), zeros(3, layer.weight.shape[0], dtype: ScalarType.Float64), adapted));
        Assert.Null(linear.FactoredKernel(layer, zeros(3, 2, layer.weight.shape[1], dtype: ScalarType.Float64), zeros(3, 2, layer.weight.shape[0], dtype: ScalarType.Float64), adapted));
        var conv = new Microsoft.ML.Ntk.Linearization.Layers.Conv2dRule();
        var convolution = test.Network.modules().OfType<TorchSharp.Modules.Conv2d>().First();
        Assert.Null(conv.FactoredKernel(convolution, zeros(1), zeros(1), adapted));
    }
}
