using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// A randomized Nyström factor F [n, r] with F Fᵀ ≈ A for a symmetric positive semi-definite operator, from r products
/// with an orthonormal Gaussian sketch Ω: F = Y_ν C⁻ᵀ with Y_ν = A Ω + ν Ω and C Cᵀ = Ωᵀ Y_ν (a small shift ν keeps
/// the Cholesky stable). Needs no diagonal, unlike pivoted Cholesky: suited to operators whose diagonal is costly.
/// </summary>
internal static class NystromApproximation
{
    public static Tensor Factor(LinearOperator a, int rank, int seed)
    {
        if (a.Rows != a.Columns) throw new ArgumentException($"A Nyström factor needs a square operator; {a} is not.");
        long n = a.Rows;
        rank = (int)Math.Min(rank, n);
        if (rank <= 0) return zeros(n, 0, dtype: ScalarType.Float64, device: a.Device);
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        Tensor sketch = linalg.qr(randn(n, rank, generator: generator, dtype: ScalarType.Float64)).Q;
        Tensor y = a.Multiply(sketch).to(ScalarType.Float64);
        double shift = Math.Sqrt(n) * 1e-7 * Math.Max(y.norm().item<double>(), 1e-300);
        Tensor shifted = y.Plus(sketch.Times(shift));
        Tensor core = sketch.t().matmul(shifted);
        Tensor c = linalg.cholesky(core.Plus(core.t()).Times(0.5));
        Tensor factor = linalg.solve_triangular(c, shifted.t(), upper: false).t();
        return scope.MoveToOuter(factor);
    }
}
