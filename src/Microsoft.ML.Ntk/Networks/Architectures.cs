using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>Built-in network shapes, named and numbered as their PyTorch equivalents so that state_dicts load as they are.</summary>
internal static class Architectures
{
    /// <summary>nn.Sequential(Linear, act, Linear, act, ..., Linear): parameters "0.weight", "0.bias", "2.weight", ...</summary>
    public static nn.Module<Tensor, Tensor> Mlp(long inputSize, long[] hiddenSizes, long outputSize, Func<nn.Module<Tensor, Tensor>> activation)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        long width = inputSize;
        foreach (long hidden in hiddenSizes)
        {
            layers.Add(nn.Linear(width, hidden));
            layers.Add(activation());
            width = hidden;
        }
        layers.Add(nn.Linear(width, outputSize));
        return nn.Sequential(layers);
    }

    /// <summary>The small CNN of <see cref="NetworkArchitecture.SmallCnn"/>.</summary>
    public static nn.Module<Tensor, Tensor> SmallCnn(long channels, long classes) => nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding: 1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding: 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(new long[] { 1, 1 }), nn.Flatten(), nn.Linear(32, classes));

    /// <summary>
    /// A CIFAR-style ResNet: 3×3 stem conv (no max pool), four stages of basic blocks with 64·widthFactor,
    /// 128·, 256·, 512· channels (strides 1, 2, 2, 2), global average pooling and a linear head.
    /// blocksPerStage [2, 2, 2, 2] with baseWidth 64 is ResNet-18. One flat Sequential ("0" conv, "1" bn, "2" relu,
    /// one Sequential per stage, then pooling, flatten and the linear head), so that the frozen-trunk split applies.
    /// </summary>
    public static nn.Module<Tensor, Tensor> CifarResNet(int[] blocksPerStage, long classes, long baseWidth = 64, long inputChannels = 3)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>
        {
            nn.Conv2d(inputChannels, baseWidth, 3, stride: 1, padding: 1, bias: false),
            nn.BatchNorm2d(baseWidth),
            nn.ReLU(),
        };
        long channels = baseWidth;
        for (int stage = 0; stage < blocksPerStage.Length; stage++)
        {
            long width = baseWidth << stage;
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int b = 0; b < blocksPerStage[stage]; b++)
            {
                blocks.Add(new ResidualBlock(channels, width, b == 0 && stage > 0 ? 2 : 1));
                channels = width;
            }
            layers.Add(nn.Sequential(blocks));
        }
        layers.Add(nn.AdaptiveAvgPool2d(new long[] { 1, 1 }));
        layers.Add(nn.Flatten());
        layers.Add(nn.Linear(channels, classes));
        return nn.Sequential(layers);
    }
}
