using System.Buffers.Binary;
using System.IO.Compression;

namespace Microsoft.ML.Ntk.Examples.FashionMnist;

/// <summary>
/// Reads the IDX files of MNIST and Fashion-MNIST (plain, or gzip-compressed as distributed): a big-endian header of magic
/// number (0x00000803 for images, 0x00000801 for labels), the count, and for images the rows and columns, then one
/// unsigned byte per pixel or label. Every error names the file.
/// </summary>
public static class IdxFile
{
    /// <summary>Images as bytes (row-major, one image after another), with their count and size.</summary>
    public sealed record Images(byte[] Pixels, int Count, int Rows, int Columns);

    public static Images ReadImages(string path)
    {
        using var stream = Open(path);
        var header = ReadHeader(stream, path, magic: 0x00000803, fields: 3);
        int count = header[0], rows = header[1], columns = header[2];
        if (rows <= 0 || columns <= 0 || rows > 4096 || columns > 4096)
            throw new InvalidDataException($"{path}: impossible image size {rows}×{columns}.");
        return new Images(ReadExactly(stream, checked(count * rows * columns), path), count, rows, columns);
    }

    public static byte[] ReadLabels(string path)
    {
        using var stream = Open(path);
        int count = ReadHeader(stream, path, magic: 0x00000801, fields: 1)[0];
        return ReadExactly(stream, count, path);
    }

    private static Stream Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist.", path);
        Stream file = File.OpenRead(path);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static int[] ReadHeader(Stream stream, string path, int magic, int fields)
    {
        byte[] bytes = ReadExactly(stream, 4 * (fields + 1), path);
        int found = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (found != magic)
            throw new InvalidDataException($"{path}: magic number 0x{found:X8}, expected 0x{magic:X8} ({(magic == 0x803 ? "images" : "labels")}).");
        var values = Enumerable.Range(1, fields).Select(i => BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 * i))).ToArray();
        if (values[0] < 0) throw new InvalidDataException($"{path}: negative count {values[0]}.");
        return values;
    }

    private static byte[] ReadExactly(Stream stream, int count, string path)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = stream.Read(buffer, read, count - read);
            if (n == 0) throw new InvalidDataException($"{path}: cut short after {read} of {count} bytes of data.");
            read += n;
        }
        return buffer;
    }
}
