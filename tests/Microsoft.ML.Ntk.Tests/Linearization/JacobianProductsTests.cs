using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>Every product of the linearization against an explicit float64 Jacobian built row by row.</summary>
public class JacobianProductsTests
{
    public static TheoryData<string, TangentMode> Cases()
    {
        var data = new TheoryData<string, TangentMode>();
        foreach (string name in TestNetworks.Names)
        {
            data.Add(name, TangentMode.DoubleVjp);
            if (name != "torchscript-mlp") data.Add(name, TangentMode.ForwardMode);
        }
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void JvpMatchesTheExplicitJacobian(string name, TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var (_, _, x, j, n, c) = Setup(name, mode, ParameterSelection.All, out var linearized);
        Tensor v = randn(3, j.shape[1], dtype: ScalarType.Float64);
        Tensor expected = j.matmul(v.t()).t().reshape(3, n, c);
        Tolerances.AssertClose(linearized.Jvp(x, v), expected, Tolerances.Float64, $"{name} J·V ({mode})");
    }

    [Theory, MemberData(nameof(Cases))]
    public void VjpAndTheAdjointIdentity(string name, TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var (_, _, x, j, n, c) = Setup(name, mode, ParameterSelection.All, out var linearized);
        Tensor u = randn(2, n, c, dtype: ScalarType.Float64);
        Tensor jtu = linearized.Vjp(x, u);
        Tolerances.AssertClose(jtu, u.reshape(2, -1).matmul(j), Tolerances.Float64, $"{name} Jᵀ·U");

        Tensor v = randn(2, j.shape[1], dtype: ScalarType.Float64);
        Tensor left = (u * linearized.Jvp(x, v)).sum(new long[] { 1, 2 });   // ⟨u, J v⟩
        Tensor right = (jtu * v).sum(1);                                      // ⟨Jᵀ u, v⟩
        Tolerances.AssertClose(left, right, Tolerances.Float64, $"{name} adjoint identity ({mode})");
    }

    public static TheoryData<string, int> JacobianCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in TestNetworks.Names) data.Add(name, 0);
        data.Add("resnet", 2);
        data.Add("cnn-batchnorm", 3);
        data.Add("conv-variants", 4);
        return data;
    }

    /// <summary>
    /// The explicit Jacobian (batched per-example gradients for networks of known layers, per-row backward passes
    /// otherwise) and the exact kernel diagonal against the row-by-row reference, for all parameters (lastLayers = 0) or
    /// the last few layers; and the same Jacobian arranged by output, [C, N, P].
    /// </summary>
    [Theory, MemberData(nameof(JacobianCases))]
    public void TheExplicitJacobianMatchesTheRowReference(string name, int lastLayers)
    {
        using var scope = NewDisposeScope();
        var selection = lastLayers == 0 ? ParameterSelection.All : ParameterSelection.LastLayers(lastLayers);
        var (_, _, x, j, n, c) = Setup(name, TangentMode.Auto, selection, out var linearized);
        Assert.Equal(name != "torchscript-mlp", linearized.HasKnownLayers);
        Tolerances.AssertClose(linearized.Jacobian(x), j, Tolerances.Float64, $"{name} explicit Jacobian");
        Tolerances.AssertClose(linearized.JacobianByOutput(x), j.reshape(n, c, -1).transpose(0, 1), Tolerances.Float64, $"{name} Jacobian by output");
        Tolerances.AssertClose(linearized.KernelDiagonal(x), j.square().sum(1).reshape(n, c), Tolerances.Float64, $"{name} exact kernel diagonal");
    }

    [Theory, MemberData(nameof(Cases))]
    public void KernelAndGaussNewtonProducts(string name, TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var (_, _, x, j, n, c) = Setup(name, mode, ParameterSelection.All, out var linearized);
        Tensor kernel = j.matmul(j.t());
        Tolerances.AssertClose(linearized.Kernel(x, x), kernel, Tolerances.Float64, $"{name} explicit kernel");
        Tolerances.AssertClose(linearized.KernelDiagonal(x), kernel.diagonal().reshape(n, c), Tolerances.Float64, $"{name} kernel diagonal");

        Tensor w = randn(2, n, c, dtype: ScalarType.Float64);
        Tensor expectedKw = w.reshape(2, -1).matmul(kernel).reshape(2, n, c);
        Tolerances.AssertClose(linearized.KernelProduct(x, x, w), expectedKw, Tolerances.Float64, $"{name} K·V");

        Tensor v = randn(2, j.shape[1], dtype: ScalarType.Float64);
        Tensor expectedGn = v.matmul(j.t()).matmul(j);
        Tolerances.AssertClose(linearized.GaussNewtonProduct(x, v, OutputCurvature.Identity), expectedGn, Tolerances.Float64,
                               $"{name} JᵀJ·V");

        Tensor p = randn(n, c, dtype: ScalarType.Float64).softmax(1);
        Tensor lambda = block_diag(Enumerable.Range(0, (int)n).Select(i => p[i].diag() - p[i].outer(p[i])).ToArray());
        Tensor expectedSoftmax = v.matmul(j.t()).matmul(lambda).matmul(j);
        Tolerances.AssertClose(linearized.GaussNewtonProduct(x, v, OutputCurvature.Softmax(p)), expectedSoftmax, Tolerances.Float64,
                               $"{name} JᵀΛJ·V (softmax)");
    }

    [Theory]
    [InlineData("mlp-tanh")]
    [InlineData("cnn-batchnorm")]
    [InlineData("resnet")]
    public void ForwardModeAgreesWithDoubleVjp(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var forward = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.ForwardMode, batchSize: 2);
        var reverse = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.DoubleVjp, batchSize: 2);
        Assert.IsType<KnownLayerProducts>(forward.Products);
        Assert.IsType<DoubleVjpProducts>(reverse.Products);
        using var x = forward.Prepare(test.Inputs);
        using var y = reverse.Prepare(test.Inputs);
        Tensor v = randn(4, forward.Parameters.Count, dtype: ScalarType.Float64);
        Tolerances.AssertClose(forward.Jvp(x, v), reverse.Jvp(y, v), Tolerances.Float64, $"{name} forward mode vs double-VJP");
        Tensor u = randn(3, test.Inputs.shape[0], forward.Output(x).shape[1], dtype: ScalarType.Float64);
        Tolerances.AssertClose(forward.Vjp(x, u), reverse.Vjp(y, u), Tolerances.Float64, $"{name} Jᵀ·U on the kept graph vs a fresh autograd pass");
    }

    [Theory]
    [InlineData("mlp-tanh", TangentMode.ForwardMode)]
    [InlineData("cnn-batchnorm", TangentMode.ForwardMode)]
    [InlineData("resnet", TangentMode.ForwardMode)]
    [InlineData("torchscript-mlp", TangentMode.DoubleVjp)]
    public void Float32ProductsMatchTheFloat64Reference(string name, TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var reference = TestNetworks.Create(name, ScalarType.Float64);
        var single = TestNetworks.Create(name, ScalarType.Float32);
        Tensor j = ReferenceJacobian.ByRows(reference.Network, reference.Inputs, reference.Network.parameters().ToList<Tensor>());
        var linearized = new LinearizedNetwork(single.Network, ParameterSelection.All, mode, batchSize: 2);
        using var x = linearized.Prepare(single.Inputs);
        long n = single.Inputs.shape[0], c = j.shape[0] / n;

        Tensor v = randn(2, j.shape[1], dtype: ScalarType.Float32);
        Tensor jv = linearized.Jvp(x, v);
        Assert.Equal(ScalarType.Float32, jv.dtype);
        Tolerances.AssertClose(jv, j.matmul(v.to(ScalarType.Float64).t()).t().reshape(2, n, c), Tolerances.Float32, $"{name} float32 J·V");

        Tensor u = randn(2, n, c, dtype: ScalarType.Float32);
        Tolerances.AssertClose(linearized.Vjp(x, u), u.to(ScalarType.Float64).reshape(2, -1).matmul(j), Tolerances.Float32, $"{name} float32 Jᵀ·U");
    }

    [Theory]
    [InlineData("mlp-tanh")]
    [InlineData("torchscript-mlp")]
    [InlineData("activations")]
    public void TheRowReferenceAgreesWithFiniteDifferences(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        var parameters = test.Network.parameters().ToList<Tensor>();
        Tensor byRows = ReferenceJacobian.ByRows(test.Network, test.Inputs, parameters);
        Tensor byDifferences = ReferenceJacobian.ByFiniteDifferences(test.Network, test.Inputs, parameters);
        Tolerances.AssertClose(byRows, byDifferences, Tolerances.FiniteDifference, $"{name} rows vs finite differences");

        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 3);
        using var x = linearized.Prepare(test.Inputs);
        Tolerances.AssertClose(linearized.Jacobian(x), byDifferences, Tolerances.FiniteDifference, $"{name} Jacobian vs finite differences");
    }

    [Theory]
    [InlineData("resnet")]
    [InlineData("cnn-batchnorm")]
    [InlineData("activations")]
    public void ReplayedPrimalTapesGiveTheSameProducts(string name)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create(name);
        // no tape; a tape for every batch (one input each); a budget that holds only some of them
        var results = new List<(Tensor Jv, Tensor Jtu, Tensor Gn, long Bytes)>();
        foreach (long budget in new long[] { 0, LinearizationSettings.DefaultTapeBudgetBytes, -1 })
            results.Add(Run(budget < 0 ? results[1].Bytes / 2 : budget));

        (Tensor Jv, Tensor Jtu, Tensor Gn, long Bytes) Run(long budget)
        {
            var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.ForwardMode, batchSize: 1, tapeBudgetBytes: budget);
            using var x = linearized.Prepare(test.Inputs);
            manual_seed(5);
            Tensor v = randn(2, linearized.Parameters.Count, dtype: ScalarType.Float64);
            Tensor u = randn(2, test.Inputs.shape[0], linearized.Output(x).shape[1], dtype: ScalarType.Float64);
            var first = (Jv: linearized.Jvp(x, v), Jtu: linearized.Vjp(x, u));
            long bytes = x.TapeBytes;
            var replayed = (Jv: linearized.Jvp(x, v), Jtu: linearized.Vjp(x, u), Gn: linearized.GaussNewtonProduct(x, v, OutputCurvature.Identity));
            Assert.Equal(bytes, x.TapeBytes);
            // equal up to rounding: BLAS kernels may round differently on differently aligned buffers
            Tolerances.AssertClose(replayed.Jv, first.Jv, 1e-13, $"{name} replayed J·V");
            Tolerances.AssertClose(replayed.Jtu, first.Jtu, 1e-13, $"{name} replayed Jᵀ·U");
            return (replayed.Jv, replayed.Jtu, replayed.Gn, bytes);
        }
        Assert.Equal(0, results[0].Bytes);
        Assert.True(results[1].Bytes > 0);
        Assert.InRange(results[2].Bytes, 1, results[1].Bytes - 1);
        foreach (var other in results.Skip(1))
        {
            Tolerances.AssertClose(other.Jv, results[0].Jv, 1e-13, $"{name} J·V with and without tapes");
            Tolerances.AssertClose(other.Jtu, results[0].Jtu, 1e-13, $"{name} Jᵀ·U with and without tapes");
            Tolerances.AssertClose(other.Gn, results[0].Gn, 1e-13, $"{name} JᵀJ·V with and without tapes");
        }
    }

    [Theory]
    [InlineData(TangentMode.ForwardMode)]
    [InlineData(TangentMode.DoubleVjp)]
    public void ResultsDoNotDependOnTheBatchSize(TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var test = TestNetworks.Create("cnn-batchnorm");
        var results = new[] { 1, 2, 100 }.Select(batchSize =>
        {
            var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, mode, batchSize);
            using var x = linearized.Prepare(test.Inputs);
            manual_seed(3);
            Tensor v = randn(2, linearized.Parameters.Count, dtype: ScalarType.Float64);
            Tensor u = randn(2, test.Inputs.shape[0], 3, dtype: ScalarType.Float64);
            return (Jv: linearized.Jvp(x, v), Jtu: linearized.Vjp(x, u), F: linearized.Output(x));
        }).ToList();
        foreach (var other in results.Skip(1))
        {
            Tolerances.AssertClose(other.Jv, results[0].Jv, 1e-13, "J·V across batch sizes");
            Tolerances.AssertClose(other.Jtu, results[0].Jtu, 1e-13, "Jᵀ·U across batch sizes");
            Tolerances.AssertClose(other.F, results[0].F, 1e-13, "f0 across batch sizes");
        }
    }

    [Theory]
    [InlineData("mlp-tanh", 2, TangentMode.ForwardMode)]
    [InlineData("mlp-tanh", 1, TangentMode.DoubleVjp)]
    [InlineData("resnet", 2, TangentMode.ForwardMode)]
    [InlineData("cnn-batchnorm", 3, TangentMode.DoubleVjp)]
    public void ParameterSubsetsUseTheirColumnsAndAFrozenTrunk(string name, int lastModules, TangentMode mode)
    {
        using var scope = NewDisposeScope();
        var (network, inputs, x, j, n, c) = Setup(name, mode, ParameterSelection.LastLayers(lastModules), out var linearized);
        Assert.True(linearized.HasFrozenTrunk);
        var owners = linearized.Parameters.Names.Select(ParameterSelection.OwnerOf).Distinct().ToList();
        Assert.Equal(lastModules, owners.Count);
        Assert.True(linearized.Parameters.Count < network.parameters().Sum(p => p.numel()));

        Tensor v = randn(2, linearized.Parameters.Count, dtype: ScalarType.Float64);
        Tolerances.AssertClose(linearized.Jvp(x, v), j.matmul(v.t()).t().reshape(2, n, c), Tolerances.Float64, $"{name} subset J·V");
        Tensor u = randn(2, n, c, dtype: ScalarType.Float64);
        Tolerances.AssertClose(linearized.Vjp(x, u), u.reshape(2, -1).matmul(j), Tolerances.Float64, $"{name} subset Jᵀ·U");
        using (no_grad())
            Tolerances.AssertClose(linearized.Output(x), ReferenceJacobian.Call(network, inputs), Tolerances.Float64, $"{name} f0 through the cached trunk");
    }

    [Fact]
    public void NamePrefixesSelectTheirParameters()
    {
        using var scope = NewDisposeScope();
        var (_, _, x, j, n, c) = Setup("mlp-relu", TangentMode.ForwardMode, ParameterSelection.NamePrefixes("0.", "4.bias"), out var linearized);
        Assert.Equal(new[] { "0.weight", "0.bias", "4.bias" }, linearized.Parameters.Names);
        Assert.False(linearized.HasFrozenTrunk);
        Tensor v = randn(2, linearized.Parameters.Count, dtype: ScalarType.Float64);
        Tolerances.AssertClose(linearized.Jvp(x, v), j.matmul(v.t()).t().reshape(2, n, c), Tolerances.Float64, "prefix J·V");
    }

    private static (nn.Module Network, Tensor Inputs, PreparedInputs X, Tensor J, long N, long C) Setup(
        string name, TangentMode mode, ParameterSelection selection, out LinearizedNetwork linearized)
    {
        var test = TestNetworks.Create(name);
        linearized = new LinearizedNetwork(test.Network, selection, mode, batchSize: 2);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, linearized.Parameters.Tensors);
        var x = linearized.Prepare(test.Inputs);
        long n = test.Inputs.shape[0];
        return (test.Network, test.Inputs, x, j, n, j.shape[0] / n);
    }
}
