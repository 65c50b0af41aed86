using Microsoft.ML.Ntk.Inference;
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
    public static TheoryData<string, bool> Networks()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in TestNetworks.Names)
            foreach (var everywhere in new[] { false, true }) data.Add(name, everywhere);
        return data;
    }

    /// <summary>By default (the test networks' convolutions see many pixels: explicit gradients) and with every form factored.</summary>
    [Theory, MemberData(nameof(Networks))]
    public void TheLayerKernelAndItsBlocksMatchTheExplicitJacobian(string name, bool factorEverywhere)
    {
        var factoring = factorEverywhere ? Factoring.Always : Factoring.WhenItPays;
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);   // several batches
        using var x = linearized.Prepare(test.Inputs);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        Tensor expected = j.matmul(j.t());
        long n = test.Inputs.shape[0], c = expected.shape[0] / n;
        Tensor expectedBlocks = expected.reshape(n, c, n, c).diagonal(0, 1, 3).permute(2, 0, 1);

        Tolerances.AssertClose(linearized.GenericKernel(x, x, factoring), expected, Tolerances.Float64, $"{name} kernel ({factoring})");
        Tolerances.AssertClose(linearized.KernelBlocks(x, factoring), expectedBlocks, Tolerances.Float64, $"{name} kernel blocks ({factoring})");
    }

    /// <summary>The blocks of explicit rows by output, formed as a mirrored triangle of row chunks, against the full product.</summary>
    [Fact]
    public void OwnBlocksAreTheProductsOfEachOutputsRows()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        Tensor rows = randn(3, 37, 11, dtype: ScalarType.Float64);                  // 37 inputs: eight chunks of 5, the last of 2
        Tolerances.AssertClose(FactoredLayerKernel.OwnBlocks(rows), rows.bmm(rows.transpose(1, 2)), Tolerances.Float64, "own blocks");
    }

    public static TheoryData<string> Names() => new(TestNetworks.Names);

    /// <summary>
    /// K(X*, X) between two input sets (the training side a batch at a time, batch size 2) and the diagonal k(x*, x*), whole
    /// and with only the output-diagonal entries, against the explicit Jacobians of both sets.
    /// </summary>
    [Theory, MemberData(nameof(Names))]
    public void TheCrossKernelBetweenTwoSetsMatchesTheExplicitJacobians(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        long b = Math.Min(3, test.Inputs.shape[0]);
        Tensor others = (test.Inputs.flip(0) * 0.5 + 0.1).narrow(0, 0, b);
        using var x = linearized.Prepare(test.Inputs);
        using var star = linearized.Prepare(others);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        Tensor jStar = ReferenceJacobian.ByRows(test.Network, others, linearized.Parameters.Tensors);
        Tensor expected = jStar.matmul(j.t());
        long c = expected.shape[0] / b;
        Tensor expectedDiagonal = jStar.Squared().sum(1).reshape(b, c);

        var (cross, diagonal) = linearized.CrossKernelAndDiagonal(star, x);
        Tolerances.AssertClose(cross, expected, Tolerances.Float64, $"{name} cross kernel");
        Tolerances.AssertClose(diagonal, expectedDiagonal, Tolerances.Float64, $"{name} diagonal");
        var (blocks, _) = linearized.CrossKernelAndDiagonal(star, x, blocksOnly: true);
        Tolerances.AssertClose(OutputCoupling.Independent(blocks, c), OutputCoupling.Independent(expected, c), Tolerances.Float64, $"{name} cross blocks");
        Tolerances.AssertClose(linearized.GenericKernel(x, star), expected.t(), Tolerances.Float64, $"{name} cross kernel, larger set first");

        if (linearized.HasStructuredKernel(x) || !linearized.HasKnownLayers) return;          // those keep no layer parts
        Assert.Null(linearized.KeepKernelParts(x, blocksOnly: false, budgetBytes: 1));
        foreach (bool blocksOnly in new[] { false, true })
        {
            using var kept = linearized.KeepKernelParts(x, blocksOnly, budgetBytes: 1L << 30)!;
            var (fromKept, keptDiagonal) = linearized.CrossKernelAndDiagonal(star, x, blocksOnly, kept);
            Tensor reference = blocksOnly ? OutputCoupling.Independent(expected, c) : expected;
            Tolerances.AssertClose(blocksOnly ? OutputCoupling.Independent(fromKept, c) : fromKept, reference, Tolerances.Float64, $"{name} from kept parts ({blocksOnly})");
            Tolerances.AssertClose(keptDiagonal, expectedDiagonal, Tolerances.Float64, $"{name} diagonal with kept parts");
        }
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
    public void FullyConnectedLayersAndUngroupedConvolutionsHaveFactorsWithTheirPositions()
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create("cnn-batchnorm");
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All);
        using var x = linearized.Prepare(test.Inputs);
        Assert.True(linearized.HasKnownLayers);
        Assert.False(linearized.HasStructuredKernel(x));      // the whole-head structure does not apply; the layer parts do
        var adapted = LayerSignals.IsAdapted(linearized.Parameters);
        var linear = new Microsoft.ML.Ntk.Linearization.Layers.LinearRule();
        var layer = test.Network.modules().OfType<TorchSharp.Modules.Linear>().Last();
        long input = layer.weight!.shape[1], output = layer.weight.shape[0];
        var vectors = linear.FactoredKernel(layer, zeros(3, input, dtype: ScalarType.Float64), zeros(3, output, dtype: ScalarType.Float64), adapted)!;
        Assert.Equal(new long[] { 3, 1, input }, vectors.Inputs!.shape);
        var sequences = linear.FactoredKernel(layer, zeros(3, 2, input, dtype: ScalarType.Float64), zeros(3, 2, output, dtype: ScalarType.Float64), adapted)!;
        Assert.Equal(new long[] { 3, 2, output }, sequences.Signals.shape);

        var conv = new Microsoft.ML.Ntk.Linearization.Layers.Conv2dRule();
        var plain = nn.Conv2d(2, 4, 3, stride: 2, padding: 1);                                    // 5×5 → 3×3 pixels
        var factors = conv.FactoredKernel(plain, zeros(3, 2, 5, 5), zeros(3, 4, 3, 3), p => true)!;
        Assert.Equal(new long[] { 3, 2, 5, 5 }, factors.Inputs!.shape);                          // kept as the input, unfolded when used
        Assert.Equal(new long[] { 3, 9, 2 * 3 * 3 }, factors.Expand!(factors.Inputs).shape);
        Assert.Equal(new long[] { 3, 9, 4 }, factors.Signals.shape);
        Assert.Null(conv.FactoredKernel(nn.Conv2d(2, 4, 3, groups: 2), zeros(3, 2, 5, 5), zeros(3, 4, 3, 3), p => true));
    }

    /// <summary>
    /// The cost rule: a ResNet-18 last-stage convolution (512 → 512 channels, 3×3, 4×4 pixels) on 500 inputs of 10 classes is
    /// factored, a first-layer convolution on 28×28 images with 16 channels is not, a fully connected layer always is.
    /// </summary>
    [Fact]
    public void FactorsAreUsedWhereTheyTakeFewerOperations()
    {
        Assert.True(FactoredLayerKernel.Pays(500, 10, 10, positions: 16, inputWidth: 512 * 9, outputWidth: 512));
        Assert.True(FactoredLayerKernel.Pays(500, 10, 100, positions: 16, inputWidth: 512 * 9, outputWidth: 512));
        Assert.False(FactoredLayerKernel.Pays(500, 10, 10, positions: 28 * 28, inputWidth: 9, outputWidth: 16));
        Assert.True(FactoredLayerKernel.Pays(500, 10, 100, positions: 1, inputWidth: 32, outputWidth: 10));
    }
}
