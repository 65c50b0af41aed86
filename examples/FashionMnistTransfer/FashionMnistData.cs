using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.FashionMnist;

/// <summary>
/// The Fashion-MNIST images as tensors: pixels in [0, 1] as [N, 1, 28, 28] float32, labels as class indices 0 … 9.
/// Nothing is downloaded: the four IDX files come from Debian's dataset-fashion-mnist package or any folder that holds them.
/// </summary>
public sealed record FashionMnistData(Tensor TrainImages, int[] TrainLabels, Tensor TestImages, int[] TestLabels)
{
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    public static readonly string[] ClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    private static readonly string[] Files =
        { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };

    /// <summary>What is missing and how to get it, or null when the four files are there (plain or .gz).</summary>
    public static string? Missing(string folder)
    {
        var absent = Files.Where(f => Find(folder, f) is null).ToArray();
        return absent.Length == 0 ? null :
            $"Fashion-MNIST is not in {folder}: {string.Join(", ", absent)} (or .gz) {(absent.Length == 1 ? "is" : "are")} missing.\n" +
            "On Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist   (installs them into " + DebianFolder + ")\n" +
            "Or put the four IDX files of https://github.com/zalandoresearch/fashion-mnist into a folder and pass it:\n" +
            "  dotnet run -c Release --project examples/FashionMnistTransfer -- /path/to/folder";
    }

    public static FashionMnistData Load(string folder)
    {
        var (trainX, trainY) = Read(folder, "train");
        var (testX, testY) = Read(folder, "t10k");
        return new FashionMnistData(trainX, trainY, testX, testY);
    }

    private static (Tensor Images, int[] Labels) Read(string folder, string split)
    {
        var images = IdxFile.ReadImages(Find(folder, $"{split}-images-idx3-ubyte")!);
        byte[] labels = IdxFile.ReadLabels(Find(folder, $"{split}-labels-idx1-ubyte")!);
        if (labels.Length != images.Count)
            throw new InvalidDataException($"{folder}: {images.Count} {split} images but {labels.Length} labels.");
        Tensor pixels = HeldScalars.With(255, c => tensor(images.Pixels).to(ScalarType.Float32).div(c)).reshape(images.Count, 1, images.Rows, images.Columns);
        return (pixels, labels.Select(l => (int)l).ToArray());
    }

    private static string? Find(string folder, string name) =>
        new[] { name, name + ".gz" }.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);
}
