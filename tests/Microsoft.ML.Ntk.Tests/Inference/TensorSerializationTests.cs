using Microsoft.ML.Ntk.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>The posterior's tensor format: full tensors and Cholesky factors written as their lower triangles.</summary>
public class TensorSerializationTests
{
    public TensorSerializationTests() => TorchSharpLoader.EnsureLoaded();

    private static byte[] Written(Action<BinaryWriter> write)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream)) write(writer);
        return stream.ToArray();
    }

    private static Tensor Factors(params long[] shape)
    {
        manual_seed(3);
        Tensor a = randn(shape, dtype: ScalarType.Float64);
        return linalg.cholesky(a.matmul(a.transpose(-2, -1)) + eye(shape[^1], dtype: ScalarType.Float64));
    }

    [Theory]
    [InlineData(new long[] { 6, 6 })]
    [InlineData(new long[] { 3, 5, 5 })]
    [InlineData(new long[] { 1, 1 })]
    public void LowerTrianglesReadBackExactlyInHalfTheBytes(long[] shape)
    {
        Tensor lower = Factors(shape);
        byte[] packed = Written(w => TensorSerialization.WriteLowerTriangular(w, lower));
        byte[] full = Written(w => TensorSerialization.Write(w, lower));
        long n = shape[^1], matrices = lower.numel() / (n * n);
        Assert.Equal(full.Length - matrices * n * (n - 1) / 2 * sizeof(double), packed.Length);
        Tensor back = TensorSerialization.ReadTriangular(new BinaryReader(new MemoryStream(packed)), "factor", dims: shape.Length);
        Assert.Equal(lower.data<double>().ToArray(), back.data<double>().ToArray());
        Assert.Equal(shape, back.shape);
        Tensor older = TensorSerialization.ReadTriangular(new BinaryReader(new MemoryStream(full)), "factor", dims: shape.Length);   // versions 1 and 2
        Assert.Equal(lower.data<double>().ToArray(), older.data<double>().ToArray());
    }

    [Fact]
    public void DamagedTriangleHeadersAreRefusedWithTheirShape()
    {
        byte[] packed = Written(w => TensorSerialization.WriteLowerTriangular(w, Factors(4, 4)));
        byte[] notSquare = (byte[])packed.Clone();
        BitConverter.GetBytes(5L).CopyTo(notSquare, 1 + 8 + 8);                     // kind, rank, rows, then columns: 4 → 5
        Assert.Contains("not square: [4, 5]", Assert.Throws<InvalidDataException>(() => Read(notSquare)).Message);
        byte[] huge = (byte[])packed.Clone();
        BitConverter.GetBytes(long.MaxValue / 2).CopyTo(huge, 1 + 8);
        BitConverter.GetBytes(long.MaxValue / 2).CopyTo(huge, 1 + 8 + 8);
        Assert.Contains("impossible shape", Assert.Throws<InvalidDataException>(() => Read(huge)).Message);
        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => Read(packed[..^8])).Message);
        byte[] vector = (byte[])packed.Clone();
        BitConverter.GetBytes(1L).CopyTo(vector, 1);
        Assert.Contains("impossible rank", Assert.Throws<InvalidDataException>(() => Read(vector)).Message);
    }

    private static Tensor Read(byte[] bytes) => TensorSerialization.Read(new BinaryReader(new MemoryStream(bytes)), "factor");
}
