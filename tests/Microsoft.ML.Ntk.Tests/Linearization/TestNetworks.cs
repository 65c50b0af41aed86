using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Linearization;

/// <summary>Small networks with their inputs, in evaluation mode, with non-trivial batch-norm statistics.</summary>
internal sealed record TestCase(string Name, nn.Module Network, Tensor Inputs)
{
    public override string ToString() => Name;
}

internal static class TestNetworks
{
    public static readonly string[] Names = { "mlp-tanh", "mlp-relu", "cnn-batchnorm", "resnet", "torchscript-mlp", "activations", "conv-variants" };

    public static TestCase Create(string name, ScalarType dtype = ScalarType.Float64)
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(7);
        (nn.Module network, Tensor inputs) = name switch
        {
            "mlp-tanh" => ((nn.Module)Architectures.Mlp(3, new long[] { 6, 5 }, 2, () => nn.Tanh()), randn(5, 3)),
            "mlp-relu" => (Architectures.Mlp(3, new long[] { 6, 5 }, 2, () => nn.ReLU()), randn(5, 3)),
            "cnn-batchnorm" => (SmallCnn(), randn(3, 2, 8, 8)),
            "resnet" => (Architectures.CifarResNet(new[] { 1, 1 }, classes: 3, baseWidth: 4, inputChannels: 2), randn(2, 2, 6, 6)),
            "torchscript-mlp" => (torch.jit.load<Tensor, Tensor>(Fixture("mlp_tanh.torchscript.pt")), randn(4, 3)),
            "conv-variants" => (ConvVariants(), randn(3, 2, 9, 9)),
            "activations" => (Activations(), randn(6, 3) * 3), // large enough to reach both branches of each activation
            _ => throw new ArgumentException(name),
        };
        // Randomized before the dtype change, so that float32 and float64 copies hold the same values.
        NoiseBiases(network);
        RandomizeBatchNormStatistics(network);
        network = network.to(dtype);
        network.eval();
        return new TestCase(name, network, inputs.to(dtype));
    }

    public static string Fixture(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", file);

    private static nn.Module<Tensor, Tensor> SmallCnn() => nn.Sequential(
        nn.Conv2d(2, 4, 3, padding: 1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 3, stride: 1, padding: 1, bias: false), nn.BatchNorm2d(3), nn.ELU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.SiLU(), nn.Linear(5, 3));

    /// <summary>Grouped, depthwise, strided, dilated and 'same'-padded convolutions; a batch norm without affine parameters.</summary>
    private static nn.Module<Tensor, Tensor> ConvVariants() => nn.Sequential(
        nn.Conv2d(2, 4, 3, stride: 2, padding: 1, groups: 2), nn.Tanh(),
        nn.Conv2d(4, 4, 3, TorchSharp.Padding.Same, groups: 4), nn.BatchNorm2d(4, affine: false), nn.GELU(),
        nn.Conv2d(4, 3, 2, stride: 1, padding: 1, dilation: 2), nn.MaxPool2d(new long[] { 2, 2 }, stride: new long[] { 1, 1 }),
        nn.AdaptiveAvgPool2d(new long[] { 2, 1 }), nn.Flatten(), nn.Linear(6, 2));

    /// <summary>Every element-wise activation with a tangent rule, between small Linear layers.</summary>
    private static nn.Module<Tensor, Tensor> Activations() => nn.Sequential(
        nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 4), nn.GELU(),
        nn.Linear(4, 4), nn.GELU(TorchSharp.Modules.GELU.Approximate.tanh), nn.Linear(4, 4), nn.Softplus(beta: 2, threshold: 0.3),
        nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 2));

    /// <summary>PyTorch initializes biases uniformly; make sure none is exactly zero by accident of a layout.</summary>
    private static void NoiseBiases(nn.Module network)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in network.named_parameters())
            if (name.EndsWith("bias", StringComparison.Ordinal) && p.dim() == 1) p.add_(randn_like(p) * 0.1);
    }

    private static void RandomizeBatchNormStatistics(nn.Module network)
    {
        using var noGrad = no_grad();
        foreach (var (_, module) in network.named_modules())
        {
            if (module is not TorchSharp.Modules.BatchNorm norm) continue;
            norm.running_mean!.copy_(randn_like(norm.running_mean!) * 0.3);
            norm.running_var!.copy_(rand_like(norm.running_var!) + 0.5);
            norm.weight?.copy_(randn_like(norm.weight!) * 0.5 + 1);
            norm.bias?.copy_(randn_like(norm.bias!) * 0.2);
        }
    }
}
