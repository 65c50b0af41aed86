using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Networks;

public class PretrainedNetworkTests
{
    private static Tensor Outputs(PretrainedNetwork network, Tensor x)
    {
        using var noGrad = no_grad();
        return ((nn.IModule<Tensor, Tensor>)network.Module).call(x);
    }

    [Fact]
    public void ATorchScriptFileLoadsInEvaluationMode()
    {
        var network = PretrainedNetwork.FromTorchScript(TestNetworks.Fixture("mlp_tanh.torchscript.pt"));
        Assert.False(network.Module.training);
        Assert.NotNull(network.TorchScriptBytes);
        Assert.Equal(new long[] { 4, 2 }, Outputs(network, zeros(4, 3, dtype: ScalarType.Float64)).shape);
    }

    [Fact]
    public void AFileThatIsNotTorchScriptIsRefusedWithWhatItIs()
    {
        var error = Assert.Throws<InvalidDataException>(() => PretrainedNetwork.FromTorchScript(TestNetworks.Fixture("mlp_relu.state_dict.pt")));
        Assert.Contains("not a TorchScript file", error.Message);
        Assert.Contains("PyTorch state_dict", error.Message);
        Assert.Throws<FileNotFoundException>(() => PretrainedNetwork.FromTorchScript("/nonexistent/model.pt"));
    }

    [Fact]
    public void ABuiltInArchitectureLoadsAPyTorchStateDict()
    {
        var network = PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(4, new[] { 6 }, 3, Activation.ReLU), TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        Assert.False(network.Module.training);
        Assert.Equal(new long[] { 2, 3 }, Outputs(network, zeros(2, 4)).shape);
        var error = Assert.Throws<InvalidDataException>(() =>
            PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(4, new[] { 6, 6 }, 3, Activation.ReLU), TestNetworks.Fixture("mlp_relu.state_dict.pt")));
        Assert.Contains("'2.weight'", error.Message);    // [3, 6] in the file, [6, 6] in the architecture
        Assert.Throws<ArgumentOutOfRangeException>(() => NetworkArchitecture.Mlp(0, new[] { 6 }, 3, Activation.ReLU));
    }

    [Fact]
    public void BuiltInConvolutionalArchitecturesHaveTheirDocumentedShapes()
    {
        TorchSharpLoader.EnsureLoaded();
        var cnn = NetworkArchitecture.SmallCnn(3, 16, 16, 5);
        var resnet = NetworkArchitecture.CifarResNet(new[] { 1, 1 }, 3, 16, 16, 4, baseWidth: 8);
        Assert.Equal(3 * 16 * 16, cnn.InputSize);
        Assert.Equal(5, cnn.OutputSize);
        var cnnModule = cnn.Build();
        cnnModule.eval();
        var resnetModule = resnet.Build();
        resnetModule.eval();
        using var noGrad = no_grad();
        Assert.Equal(new long[] { 2, 5 }, cnnModule.call(zeros(2, 3, 16, 16)).shape);
        Assert.Equal(new long[] { 2, 4 }, resnetModule.call(zeros(2, 3, 16, 16)).shape);
        Assert.Contains("0.weight", cnnModule.state_dict().Keys);
        Assert.Contains("4.0.shortcut.0.weight", resnetModule.state_dict().Keys);   // second stage, first block, projection
    }

    [Fact]
    public void RegisteredFactoriesBuildModulesThatLoadWeights()
    {
        PretrainedNetwork.RegisterFactory("tests.relu-mlp", () => nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)));
        var network = PretrainedNetwork.FromFactory("tests.relu-mlp", TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        Assert.Equal("tests.relu-mlp", network.FactoryName);
        var reference = PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(4, new[] { 6 }, 3, Activation.ReLU), TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        Tensor x = randn(3, 4);
        Assert.Equal(Outputs(reference, x).data<float>().ToArray(), Outputs(network, x).data<float>().ToArray());
        var error = Assert.Throws<InvalidOperationException>(() => PretrainedNetwork.FromFactory("tests.unknown", TestNetworks.Fixture("mlp_relu.state_dict.pt")));
        Assert.Contains("tests.relu-mlp", error.Message);
    }
}
