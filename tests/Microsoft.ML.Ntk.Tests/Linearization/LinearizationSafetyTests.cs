using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>
/// Misuse that would make libtorch abort the process inside autograd must surface as a managed exception
/// with a clear message. If any of these tests reached libtorch unchecked, the test host would die.
/// </summary>
public class LinearizationSafetyTests
{
    [Fact]
    public void ANetworkInTrainingModeIsRefused()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        test.Network.train();
        var error = Assert.Throws<InvalidOperationException>(() => new LinearizedNetwork(test.Network, ParameterSelection.All));
        Assert.Contains("training mode", error.Message);
    }

    [Fact]
    public void SwitchingToTrainingModeLaterIsCaughtBeforeAnyProduct()
    {
        var test = TestNetworks.Create("mlp-tanh");
        foreach (var mode in new[] { TangentMode.ForwardMode, TangentMode.DoubleVjp })
        {
            var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, mode);
            using var x = linearized.Prepare(test.Inputs);
            test.Network.train();
            Assert.Throws<InvalidOperationException>(() => linearized.Jvp(x, zeros(1, linearized.Parameters.Count, dtype: ScalarType.Float64)));
            Assert.Throws<InvalidOperationException>(() => linearized.Vjp(x, zeros(1, 5, 2, dtype: ScalarType.Float64)));
            test.Network.eval();
        }
    }

    [Fact]
    public void TangentsAndCotangentsOfTheWrongShapeOrTypeAreRefused()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.DoubleVjp);
        using var x = linearized.Prepare(test.Inputs);
        long p = linearized.Parameters.Count;
        Assert.Contains($"[k, {p}]", Assert.Throws<ArgumentException>(() => linearized.Jvp(x, zeros(2, p + 1, dtype: ScalarType.Float64))).Message);
        Assert.Throws<ArgumentException>(() => linearized.Jvp(x, zeros(p, dtype: ScalarType.Float64)));
        Assert.Contains("Float32", Assert.Throws<ArgumentException>(() => linearized.Jvp(x, zeros(2, p, dtype: ScalarType.Float32))).Message);
        Assert.Contains("[k, 5, 2]", Assert.Throws<ArgumentException>(() => linearized.Vjp(x, zeros(1, 5, 3, dtype: ScalarType.Float64))).Message);
        Assert.Contains("[k, 5, C]", Assert.Throws<ArgumentException>(() => linearized.Vjp(x, zeros(1, 4, 2, dtype: ScalarType.Float64))).Message);
        Assert.Throws<ArgumentException>(() => linearized.Vjp(x, zeros(1, 5, 2, dtype: ScalarType.Float32)));
    }

    [Fact]
    public void InputsOfTheWrongTypeOrShapeAreRefused()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var linearized = new LinearizedNetwork(test.Network, ParameterSelection.All);
        Assert.Contains("Float32", Assert.Throws<ArgumentException>(() => linearized.Prepare(test.Inputs.to(ScalarType.Float32))).Message);
        Assert.Throws<ArgumentException>(() => linearized.Prepare(zeros(0, 3, dtype: ScalarType.Float64)));
        using var wrongWidth = linearized.Prepare(zeros(4, 7, dtype: ScalarType.Float64));
        var error = Assert.Throws<ArgumentException>(() => linearized.Jvp(wrongWidth, zeros(1, linearized.Parameters.Count, dtype: ScalarType.Float64)));
        Assert.Contains("[4, 7]", error.Message);
    }

    [Fact]
    public void SelectionsThatMatchNothingNameTheParameters()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var error = Assert.Throws<ArgumentException>(() => new LinearizedNetwork(test.Network, ParameterSelection.NamePrefixes("fc.")));
        Assert.Contains("0.weight", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearizedNetwork(test.Network, ParameterSelection.LastLayers(4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterSelection.LastLayers(0));
    }

    [Fact]
    public void ForwardModeOnATorchScriptModuleIsRefusedWithTheModuleNamed()
    {
        var test = TestNetworks.Create("torchscript-mlp");
        var error = Assert.Throws<NotSupportedException>(() => new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.ForwardMode));
        Assert.Contains("ScriptModule", error.Message);
        Assert.IsType<DoubleVjpProducts>(new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto).Products);
    }

    [Fact]
    public void AutogradSessionChecksBeforeCallingLibtorch()
    {
        TorchSharpLoader.EnsureLoaded();
        var w = randn(3, dtype: ScalarType.Float64).requires_grad_(true);
        var frozen = randn(3, dtype: ScalarType.Float64);
        var unused = randn(2, dtype: ScalarType.Float64).requires_grad_(true);

        using (enable_grad())
        {
            var session = new AutogradSession();
            var y = (w * w).sum();
            // an output that does not require grad
            Assert.Throws<InvalidOperationException>(() => session.Grad(new[] { frozen.sum() }, new[] { w }, new[] { ones(1, dtype: ScalarType.Float64).sum() }, true));
            // a gradient output of the wrong shape, then of the wrong dtype
            Assert.Throws<ArgumentException>(() => session.Grad(new[] { y }, new[] { w }, new[] { ones(2, dtype: ScalarType.Float64) }, true));
            Assert.Throws<ArgumentException>(() => session.Grad(new[] { y }, new[] { w }, new[] { ones_like(y).to(ScalarType.Float32) }, true));
            // an input that does not require grad
            Assert.Throws<InvalidOperationException>(() => session.Grad(new[] { y }, new[] { frozen }, new[] { ones_like(y) }, true));
            // an unused input gets zeros instead of an abort
            var g = session.Grad(new[] { y }, new[] { w, unused }, new[] { ones_like(y) }, retainGraph: false);
            Assert.Equal(new double[] { 0, 0 }, g[1].data<double>().ToArray());
            Assert.Equal((2 * w).detach().data<double>().ToArray(), g[0].data<double>().ToArray());
            // the graph is released now: a second pass is refused instead of aborting
            var error = Assert.Throws<InvalidOperationException>(() => session.Grad(new[] { y }, new[] { w }, new[] { ones_like(y) }, false));
            Assert.Contains("released", error.Message);
        }
    }

    [Fact]
    public void AnOutputThatNoAdaptedParameterReachesHasZeroProductsNotAnAbort()
    {
        TorchSharpLoader.EnsureLoaded();
        // Only the first layer is adapted, but a detach in the network cuts it off from the output.
        var network = new Detaching();
        network.eval();
        var linearized = new LinearizedNetwork(network, ParameterSelection.NamePrefixes("first."), TangentMode.DoubleVjp);
        using var x = linearized.Prepare(randn(2, 3));
        Assert.Equal(0f, linearized.Vjp(x, ones(1, 2, 2)).abs().sum().item<float>());
        Assert.Equal(0f, linearized.Jvp(x, ones(1, linearized.Parameters.Count)).abs().sum().item<float>());
    }

    private sealed class Detaching : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Linear first = nn.Linear(3, 3);
        private readonly TorchSharp.Modules.Linear second = nn.Linear(3, 2);

        public Detaching() : base(nameof(Detaching)) => RegisterComponents();

        public override Tensor forward(Tensor x) => second.forward(first.forward(x).detach());
    }
}
