using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML.Ntk.Examples.FashionMnist;

namespace Microsoft.ML.Ntk.Tests.Examples;

/// <summary>The Fashion-MNIST example's IDX reader on files written here: plain and gzip, images and labels, and damaged headers.</summary>
public class IdxFileTests
{
    private static byte[] Header(int magic, params int[] fields)
    {
        var bytes = new byte[4 * (fields.Length + 1)];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 * (i + 1)), fields[i]);
        return bytes;
    }

    private static void Write(string path, byte[] bytes)
    {
        if (!path.EndsWith(".gz", StringComparison.Ordinal)) { File.WriteAllBytes(path, bytes); return; }
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(bytes);
    }

    [Theory]
    [InlineData("images.idx")]
    [InlineData("images.idx.gz")]
    public void ImagesAndLabelsReadBackAsWritten(string name)
    {
        using var folder = new TemporaryFolder();
        byte[] pixels = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        string images = Path.Combine(folder.Path, name), labels = Path.Combine(folder.Path, "labels" + Path.GetExtension(name));
        Write(images, Header(0x803, 2, 3, 4).Concat(pixels).ToArray());
        Write(labels, Header(0x801, 2).Concat(new byte[] { 9, 4 }).ToArray());

        var read = IdxFile.ReadImages(images);
        Assert.Equal((2, 3, 4), (read.Count, read.Rows, read.Columns));
        Assert.Equal(pixels, read.Pixels);
        Assert.Equal(new byte[] { 9, 4 }, IdxFile.ReadLabels(labels));
    }

    [Fact]
    public void AWrongMagicNumberOrAShortFileIsRefusedNamingTheFile()
    {
        using var folder = new TemporaryFolder();
        string labels = Path.Combine(folder.Path, "labels.idx"), shortImages = Path.Combine(folder.Path, "short.idx");
        Write(labels, Header(0x801, 20).Concat(new byte[20]).ToArray());
        Write(shortImages, Header(0x803, 2, 3, 4).Concat(new byte[5]).ToArray());

        var wrong = Assert.Throws<InvalidDataException>(() => IdxFile.ReadImages(labels));
        Assert.Contains(labels, wrong.Message);
        Assert.Contains("0x00000801", wrong.Message);
        var cut = Assert.Throws<InvalidDataException>(() => IdxFile.ReadImages(shortImages));
        Assert.Contains("cut short after 5 of 24 bytes", cut.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", FashionMnistData.Missing(folder.Path));
    }
}
