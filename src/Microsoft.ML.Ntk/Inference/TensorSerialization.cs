using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Tensors in a binary stream: element type (1 = float32, 2 = float64), rank, shape, then the values in row-major
/// order, little-endian. Reading checks every count against the stream before allocating.
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
        if (kind != 1 && kind != 2) throw new InvalidDataException($"The stored {what} has an unknown element type ({kind}).");
        long rank = reader.ReadInt64();
        if (rank is < 0 or > 8) throw new InvalidDataException($"The stored {what} has an impossible rank ({rank}).");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++) shape[i] = reader.ReadInt64();
        long count = shape.Aggregate(1L, (a, b) => a < 0 || b < 0 ? -1 : a * b);
        int width = kind == 1 ? sizeof(float) : sizeof(double);
        long remaining = reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position : long.MaxValue;
        if (count < 0 || count > int.MaxValue / width)
            throw new InvalidDataException($"The stored {what} claims an impossible shape [{string.Join(", ", shape)}].");
        if (count * width > remaining)
            throw new InvalidDataException($"The stored {what} is cut short: shape [{string.Join(", ", shape)}] needs {count * width} bytes, {remaining} remain.");
        byte[] bytes = reader.ReadBytes((int)(count * width));
        if (bytes.Length != count * width) throw new InvalidDataException($"The stored {what} is cut short.");
        return kind == 1 ? tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape)
                         : tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), shape);
    }
}
