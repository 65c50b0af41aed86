using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// A built-in network shape, laid out and named like its PyTorch equivalent so that a state_dict saved by PyTorch loads
/// as it is. See each factory for the PyTorch code it matches.
/// </summary>
public abstract class NetworkArchitecture
{
    private protected NetworkArchitecture() { }

    /// <summary>The number of values one input holds (the product of the input shape).</summary>
    public abstract long InputSize { get; }

    /// <summary>The number of outputs.</summary>
    public abstract long OutputSize { get; }

    /// <summary>
    /// A multilayer perceptron, in PyTorch <c>nn.Sequential(nn.Linear(inputSize, h1), act, nn.Linear(h1, h2), act, ...,
    /// nn.Linear(hLast, outputSize))</c>: parameters "0.weight", "0.bias", "2.weight", ...
    /// </summary>
    public static NetworkArchitecture Mlp(int inputSize, int[] hiddenSizes, int outputSize, Activation activation)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "The input size must be positive.");
        if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, "The output size must be positive.");
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (hiddenSizes.Any(h => h <= 0)) throw new ArgumentOutOfRangeException(nameof(hiddenSizes), "Every hidden size must be positive.");
        return new MlpArchitecture(inputSize, hiddenSizes, outputSize, activation);
    }

    /// <summary>
    /// A small CNN for images of <paramref name="channels"/> × H × W, in PyTorch <c>nn.Sequential(nn.Conv2d(channels, 16, 3,
    /// padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
    /// nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))</c>.
    /// </summary>
    public static NetworkArchitecture SmallCnn(int channels, int height, int width, int classes) =>
        new SmallCnnArchitecture(Positive(channels, nameof(channels)), Positive(height, nameof(height)), Positive(width, nameof(width)),
                                 Positive(classes, nameof(classes)));

    /// <summary>
    /// A CIFAR-style ResNet for images of <paramref name="channels"/> × H × W: a 3×3 stem convolution with batch norm and
    /// ReLU, stages of basic residual blocks (torchvision's BasicBlock: conv1, bn1, conv2, bn2, and a 1×1 convolution with
    /// batch norm named shortcut.0 / shortcut.1 where the shape changes) with baseWidth · 2^stage channels and stride 2 from
    /// the second stage on, global average pooling, flatten and a linear head; all in one nn.Sequential numbered "0", "1", ....
    /// blocksPerStage [2, 2, 2, 2] with baseWidth 64 is ResNet-18.
    /// </summary>
    public static NetworkArchitecture CifarResNet(int[] blocksPerStage, int channels, int height, int width, int classes, int baseWidth = 64)
    {
        ArgumentNullException.ThrowIfNull(blocksPerStage);
        if (blocksPerStage.Length == 0 || blocksPerStage.Any(b => b <= 0))
            throw new ArgumentOutOfRangeException(nameof(blocksPerStage), "Give at least one stage, each with at least one block.");
        return new ResNetArchitecture(blocksPerStage, Positive(channels, nameof(channels)), Positive(height, nameof(height)),
                                      Positive(width, nameof(width)), Positive(classes, nameof(classes)), Positive(baseWidth, nameof(baseWidth)));
    }

    /// <summary>
    /// A new TorchSharp module of this architecture with freshly initialized weights, e.g. to pretrain it on a source task;
    /// its <c>save</c> file loads with <see cref="PretrainedNetwork.FromArchitecture"/>.
    /// </summary>
    public nn.Module<Tensor, Tensor> CreateModule()
    {
        TorchSharpLoader.EnsureLoaded();
        return Build();
    }

    /// <summary>The shape of one input, e.g. [features] or [channels, height, width].</summary>
    internal abstract long[] InputShape { get; }

    internal abstract nn.Module<Tensor, Tensor> Build();

    /// <summary>Writes the architecture's kind and sizes (for saved models).</summary>
    internal abstract void Write(BinaryWriter writer);

    /// <summary>Reads an architecture written by <see cref="Write"/>, with the same checks as the factories.</summary>
    internal static NetworkArchitecture Read(BinaryReader reader)
    {
        int[] Ints() => Enumerable.Range(0, reader.ReadInt32()).Select(_ => reader.ReadInt32()).ToArray();
        return reader.ReadByte() switch
        {
            1 => Mlp(reader.ReadInt32(), Ints(), reader.ReadInt32(), (Activation)reader.ReadInt32()),
            2 => SmallCnn(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32()),
            3 => CifarResNet(Ints(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32()),
            var kind => throw new InvalidDataException($"The saved network architecture has an unknown kind ({kind})."),
        };
    }

    private protected static void WriteInts(BinaryWriter writer, int[] values)
    {
        writer.Write(values.Length);
        foreach (int value in values) writer.Write(value);
    }

    private static int Positive(int value, string name) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");

    private sealed class MlpArchitecture(int input, int[] hidden, int output, Activation activation) : NetworkArchitecture
    {
        public override long InputSize => input;
        public override long OutputSize => output;
        internal override long[] InputShape => new long[] { input };
        internal override nn.Module<Tensor, Tensor> Build() =>
            Architectures.Mlp(input, hidden.Select(h => (long)h).ToArray(), output, () => Activations.Create(activation));
        internal override void Write(BinaryWriter writer)
        {
            writer.Write((byte)1);
            writer.Write(input);
            WriteInts(writer, hidden);
            writer.Write(output);
            writer.Write((int)activation);
        }
        /// <inheritdoc/>
        public override string ToString() => $"MLP {input}-{string.Join("-", hidden)}-{output} ({activation})";
    }

    private sealed class SmallCnnArchitecture(int channels, int height, int width, int classes) : NetworkArchitecture
    {
        public override long InputSize => (long)channels * height * width;
        public override long OutputSize => classes;
        internal override long[] InputShape => new long[] { channels, height, width };
        internal override nn.Module<Tensor, Tensor> Build() => Architectures.SmallCnn(channels, classes);
        internal override void Write(BinaryWriter writer)
        {
            writer.Write((byte)2);
            foreach (int value in new[] { channels, height, width, classes }) writer.Write(value);
        }
        public override string ToString() => $"small CNN {channels}×{height}×{width} → {classes}";
    }

    private sealed class ResNetArchitecture(int[] blocks, int channels, int height, int width, int classes, int baseWidth) : NetworkArchitecture
    {
        public override long InputSize => (long)channels * height * width;
        public override long OutputSize => classes;
        internal override long[] InputShape => new long[] { channels, height, width };
        internal override nn.Module<Tensor, Tensor> Build() => Architectures.CifarResNet(blocks, classes, baseWidth, channels);
        internal override void Write(BinaryWriter writer)
        {
            writer.Write((byte)3);
            WriteInts(writer, blocks);
            foreach (int value in new[] { channels, height, width, classes, baseWidth }) writer.Write(value);
        }
        public override string ToString() => $"CIFAR ResNet [{string.Join(", ", blocks)}] width {baseWidth}, {channels}×{height}×{width} → {classes}";
    }
}
