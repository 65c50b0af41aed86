using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.FashionMnist;

/// <summary>A source task and a shifted target task: which classes each has, and how target images differ from source ones.</summary>
public sealed record Shift(string Name, string Description, int[] SourceClasses, int[] TargetClasses, Func<Tensor, Tensor> TargetImages);

public static class Shifts
{
    public static readonly Shift[] All =
    {
        new("rotated", "the same ten classes, turned by 90° and at half the contrast (0.25 + 0.5 x)",
            Enumerable.Range(0, 10).ToArray(), Enumerable.Range(0, 10).ToArray(), x => HeldScalars.With(0.25, c => HeldScalars.With(0.5, h => x.rot90(1, (2, 3)).mul(h)).add(c, HeldScalars.One))),
        new("new classes", "pretrained on T-shirt/top, Trouser, Pullover, Dress and Coat; adapted to Sandal, Shirt, Sneaker, Bag and Ankle boot, reusing the five outputs of the head",
            new[] { 0, 1, 2, 3, 4 }, new[] { 5, 6, 7, 8, 9 }, x => x),
    };
}
