using Microsoft.ML.Ntk.LinearAlgebra;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.LinearAlgebra;

/// <summary>Products with blocks [C, N, M] against the dense block-diagonal matrix they stand for.</summary>
public sealed class BlockDiagonalTests
{
    public BlockDiagonalTests() => TorchSharpLoader.EnsureLoaded();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void ProductsEqualTheDenseBlockDiagonalMatrix(int columns)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        Tensor blocks = randn(4, 6, 5, dtype: ScalarType.Float64);
        Tensor v = columns == 0 ? randn(4, 5, dtype: ScalarType.Float64) : randn(4, 5, columns, dtype: ScalarType.Float64);
        Tensor dense = block_diag(blocks.unbind(0));                                              // [4·6, 4·5]
        Tensor expected = dense.matmul(v.reshape(4 * 5, -1)).reshape(columns == 0 ? new long[] { 4, 6 } : new long[] { 4, 6, columns });
        Tolerances.AssertClose(BlockDiagonal.Times(blocks, v), expected, Tolerances.Float64, $"blocks times {columns} columns");
        // Transposed blocks (a view, as a restricted kernel is used the other way round).
        Tensor w = columns == 0 ? randn(4, 6, dtype: ScalarType.Float64) : randn(4, 6, columns, dtype: ScalarType.Float64);
        Tensor transposedExpected = dense.t().matmul(w.reshape(4 * 6, -1)).reshape(columns == 0 ? new long[] { 4, 5 } : new long[] { 4, 5, columns });
        Tolerances.AssertClose(BlockDiagonal.Times(blocks.transpose(1, 2), w), transposedExpected, Tolerances.Float64, $"transposed blocks times {columns} columns");
    }
}
