using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>
/// The basic residual block of a CIFAR-style ResNet (He et al. 2016):
/// y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the shortcut is the identity, or a 1×1
/// strided convolution with batch norm when the shape changes. Parameter names follow torchvision's
/// BasicBlock: conv1, bn1, conv2, bn2, shortcut.0 (conv), shortcut.1 (bn).
/// </summary>
internal sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    public ResidualBlock(long inputChannels, long outputChannels, long stride) : base(nameof(ResidualBlock))
    {
        conv1 = nn.Conv2d(inputChannels, outputChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(outputChannels);
        conv2 = nn.Conv2d(outputChannels, outputChannels, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(outputChannels);
        shortcut = stride != 1 || inputChannels != outputChannels
            ? nn.Sequential(nn.Conv2d(inputChannels, outputChannels, 1, stride: stride, bias: false), nn.BatchNorm2d(outputChannels))
            : nn.Sequential();
        RegisterComponents();
    }

#pragma warning disable IDE1006 // names are the state_dict keys
    internal readonly TorchSharp.Modules.Conv2d conv1;
    internal readonly TorchSharp.Modules.BatchNorm2d bn1;
    internal readonly TorchSharp.Modules.Conv2d conv2;
    internal readonly TorchSharp.Modules.BatchNorm2d bn2;
    internal readonly TorchSharp.Modules.Sequential shortcut;
#pragma warning restore IDE1006

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor main = bn2.forward(conv2.forward(nn.functional.relu(bn1.forward(conv1.forward(x)))));
        return scope.MoveToOuter(nn.functional.relu(main.Plus(shortcut.forward(x))));
    }
}
