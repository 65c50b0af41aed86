using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Tensors in a binary stream: element type (1 = float32, 2 = float64, 3 = float64 lower triangles), rank, shape, then the
/// values in row-major order, little-endian; for kind 3 (Cholesky factors, written by <see cref="WriteLowerTriangular"/>)
/// only the lower triangle of each trailing square matrix, row by row: half the bytes, which for 1,000 images of 10
/// classes is 40 MB of a model's 80. Reading checks every count against the stream before allocating.
/// </summary>
internal static class TensorSerialization
{
    public static void Write(BinaryWriter writer, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        Tensor t = tensor.detach().cpu().contiguous();
        bool single = t.dtype == ScalarType.Float32;
        if (!single && t.dtype != ScalarType.Float64) t = t.to(ScalarType.Float64);
        writer.Write(single ? (byte)1 : (byte)2);
        writer.Write((long)t.dim());
        foreach (long size in t.shape) writer.Write(size);
        if (single) writer.Write(MemoryMarshal.AsBytes<float>(t.data<float>().ToArray()));
        else writer.Write(MemoryMarshal.AsBytes<double>(t.data<double>().ToArray()));
    }

    /// <summary>A Cholesky factor (or a batch of them) [..., n, n] with only its lower triangles written (kind 3).</summary>
    public static void WriteLowerTriangular(BinaryWriter writer, Tensor lower)
    {
        using var scope = NewDisposeScope();
        if (lower.dim() < 2 || lower.shape[^1] != lower.shape[^2])
            throw new ArgumentException($"Expected square matrices [..., n, n]; got [{string.Join(", ", lower.shape)}].");
        long n = lower.shape[^1];
        Tensor packed = lower.detach().cpu().to(ScalarType.Float64).flatten(-2).index_select(-1, LowerPositions(n)).contiguous();
        writer.Write((byte)3);
        writer.Write((long)lower.dim());
        foreach (long size in lower.shape) writer.Write(size);
        writer.Write(MemoryMarshal.AsBytes<double>(packed.data<double>().ToArray()));
    }

    /// <summary>The positions i·n + j (j ≤ i) of a lower triangle in a flattened n × n matrix, row by row.</summary>
    private static Tensor LowerPositions(long n)
    {
        var positions = new long[n * (n + 1) / 2];
        long k = 0;
        for (long i = 0; i < n; i++)
            for (long j = 0; j <= i; j++) positions[k++] = i * n + j;
        return tensor(positions);
    }

    /// <summary>A saved posterior's tensor that must hold finite values only.</summary>
    public static Tensor ReadFinite(BinaryReader reader, string what)
    {
        Tensor t = Read(reader, what);
        return t.isfinite().all().item<bool>() ? t : throw new InvalidDataException($"The saved posterior is damaged: its {what} hold NaN or infinite values.");
    }

    /// <summary>A Cholesky factor (or a batch of them, dims = 3): square, finite, lower triangular with a positive diagonal.</summary>
    public static Tensor ReadTriangular(BinaryReader reader, string what, int dims = 2)
    {
        Tensor lower = Read(reader, what);
        if (lower.dim() != dims || lower.shape[^1] != lower.shape[^2])
            throw new InvalidDataException($"The saved posterior is damaged: its {what} has shape [{string.Join(", ", lower.shape)}].");
        if (!lower.isfinite().all().item<bool>()) throw new InvalidDataException($"The saved posterior is damaged: its {what} hold NaN or infinite values.");
        if (!lower.diagonal(0, -2, -1).Above(0).all().item<bool>() || lower.triu(1).abs().max().item<double>() != 0)
            throw new InvalidDataException($"The saved posterior is damaged: its {what} is not lower triangular with a positive diagonal.");
        return lower;
    }

    public static Tensor Read(BinaryReader reader, string what)
    {
        byte kind = reader.ReadByte();
        if (kind is not (1 or 2 or 3)) throw new InvalidDataException($"The stored {what} has an unknown element type ({kind}).");
        long rank = reader.ReadInt64();
        if (rank is < 0 or > 8 || (kind == 3 && rank < 2)) throw new InvalidDataException($"The stored {what} has an impossible rank ({rank}).");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++) shape[i] = reader.ReadInt64();
        if (kind == 3 && (shape[^1] != shape[^2] || shape[^1] < 0))
            throw new InvalidDataException($"The stored {what} claims lower triangles of a shape that is not square: [{string.Join(", ", shape)}].");
        long count = Count(shape, triangles: kind == 3);
        int width = kind == 1 ? sizeof(float) : sizeof(double);
        long remaining = reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position : long.MaxValue;
        if (count < 0 || count > int.MaxValue / width)
            throw new InvalidDataException($"The stored {what} claims an impossible shape [{string.Join(", ", shape)}].");
        if (count * width > remaining)
            throw new InvalidDataException($"The stored {what} is cut short: shape [{string.Join(", ", shape)}] needs {count * width} bytes, {remaining} remain.");
        byte[] bytes = reader.ReadBytes((int)(count * width));
        if (bytes.Length != count * width) throw new InvalidDataException($"The stored {what} is cut short.");
        if (kind == 1) return tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape);
        Tensor values = tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray());
        return kind == 2 ? values.reshape(shape) : Unpack(values, shape);
    }

    /// <summary>How many values the shape holds (kind 3: its lower triangles), or −1 when a size is negative or the count beyond any array.</summary>
    private static long Count(long[] shape, bool triangles)
    {
        if (shape.Any(size => size < 0)) return -1;
        double n = shape.Length > 0 ? shape[^1] : 1;
        double estimate = triangles ? shape[..^2].Aggregate(n * (n + 1) / 2, (a, b) => a * b)
                                    : shape.Aggregate(1.0, (a, b) => a * b);     // in double: a count this large is refused, never overflows
        if (estimate > int.MaxValue) return -1;
        return triangles ? shape[..^2].Aggregate(shape[^1] * (shape[^1] + 1) / 2, (a, b) => a * b) : shape.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>The matrices [..., n, n] whose lower triangles, row by row, are <paramref name="packed"/>; zero above the diagonal.</summary>
    private static Tensor Unpack(Tensor packed, long[] shape)
    {
        using var scope = NewDisposeScope();
        long n = shape[^1];
        long[] batch = shape[..^2];
        Tensor full = zeros(batch.Append(n * n).ToArray(), dtype: ScalarType.Float64);
        Tensor positions = LowerPositions(n);
        full.index_copy_(-1, positions, packed.reshape(batch.Append(positions.shape[0]).ToArray()));
        return scope.MoveToOuter(full.reshape(shape));
    }
}
