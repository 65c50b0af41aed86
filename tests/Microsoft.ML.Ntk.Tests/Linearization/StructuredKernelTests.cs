using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>The structured kernel of fully connected heads against the kernel of the explicit row-by-row Jacobian.</summary>
public class StructuredKernelTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "mlp-tanh", "all" },
        { "mlp-relu", "all" },
        { "activations", "all" },
        { "mlp-tanh", "last2" },        // a frozen trunk, then Linear, Tanh, Linear
        { "cnn-batchnorm", "last1" },   // a convolutional trunk with a linear head
        { "mlp-relu", "biases" },        // only biases: the A Aᵀ term drops out
        { "mlp-tanh", "weights" },       // only weights: the bias term drops out
    };

    [Theory, MemberData(nameof(Cases))]
    public void StructuredKernelAndDiagonalMatchTheExplicitJacobian(string name, string selection)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, Selection(selection), TangentMode.Auto, batchSize: 2);
        using var x = linearized.Prepare(test.Inputs);
        Assert.True(linearized.HasStructuredKernel(x));
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        Tensor expected = j.matmul(j.t());

        Tolerances.AssertClose(linearized.Kernel(x, x), expected, Tolerances.Float64, $"{name}/{selection} structured kernel");
        Tolerances.AssertClose(linearized.GenericKernel(x, x), expected, Tolerances.Float64, $"{name}/{selection} generic kernel");
        long n = test.Inputs.shape[0];
        Tolerances.AssertClose(linearized.KernelDiagonal(x), expected.diagonal().reshape(n, -1), Tolerances.Float64, $"{name}/{selection} diagonal");

        // A cross kernel between two different input sets.
        Tensor other = randn_like(test.Inputs);
        using var y = linearized.Prepare(other);
        Tensor jy = ReferenceJacobian.ByRows(test.Network, other, linearized.Parameters.Tensors);
        Tolerances.AssertClose(linearized.Kernel(x, y), j.matmul(jy.t()), Tolerances.Float64, $"{name}/{selection} cross kernel");
    }

    [Theory]
    [InlineData("cnn-batchnorm")]
    [InlineData("resnet")]
    [InlineData("torchscript-mlp")]
    public void OtherNetworksUseTheGenericKernel(string name)
    {
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All);
        using var x = linearized.Prepare(test.Inputs);
        Assert.False(linearized.HasStructuredKernel(x));
    }

    [Theory]
    [InlineData("cnn-batchnorm")]
    [InlineData("resnet")]
    [InlineData("torchscript-mlp")]
    public void TheGenericCrossKernelMatchesTheExplicitJacobiansInBothOrders(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        Tensor few = test.Inputs.narrow(0, 0, 1), many = test.Inputs;
        using var x1 = linearized.Prepare(few);
        using var x2 = linearized.Prepare(many);
        Tensor j1 = ReferenceJacobian.ByRows(test.Network, few, linearized.Parameters.Tensors);
        Tensor j2 = ReferenceJacobian.ByRows(test.Network, many, linearized.Parameters.Tensors);
        Tolerances.AssertClose(linearized.GenericKernel(x1, x2), j1.matmul(j2.t()), Tolerances.Float64, $"{name} K(few, many)");
        Tolerances.AssertClose(linearized.GenericKernel(x2, x1), j2.matmul(j1.t()), Tolerances.Float64, $"{name} K(many, few)");
    }

    private static ParameterSelection Selection(string name) => name switch
    {
        "all" => ParameterSelection.All,
        "last1" => ParameterSelection.LastLayers(1),
        "last2" => ParameterSelection.LastLayers(2),
        "biases" => ParameterSelection.NamePrefixes("0.bias", "2.bias", "4.bias"),
        "weights" => ParameterSelection.NamePrefixes("0.weight", "2.weight", "4.weight"),
        _ => throw new ArgumentException(name),
    };
}
