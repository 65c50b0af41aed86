using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// A Cholesky factor L of A + jitter·I (A symmetric positive semi-definite, float64). The jitter starts at zero and
/// grows tenfold from 1e-10 of the mean diagonal until the factorization succeeds; the jitter used is reported.
/// </summary>
internal sealed class DenseCholesky
{
    private DenseCholesky(Tensor lower, double jitter)
    {
        Lower = lower;
        Jitter = jitter;
    }

    /// <summary>L with L Lᵀ = A + Jitter·I.</summary>
    public Tensor Lower { get; }

    /// <summary>The jitter added to the diagonal (0 when none was needed).</summary>
    public double Jitter { get; }

    public static DenseCholesky Factor(Tensor matrix)
    {
        if (matrix.dim() != 2 || matrix.shape[0] != matrix.shape[1])
            throw new ArgumentException($"A Cholesky factorization needs a square matrix; got [{string.Join(", ", matrix.shape)}].");
        using var scope = NewDisposeScope();
        Tensor a = matrix.to(ScalarType.Float64);
        if (!a.isfinite().all().item<bool>()) throw new ArgumentException("The matrix to factor holds NaN or infinite values.");
        double meanDiagonal = Math.Max(a.diagonal().mean().item<double>(), double.Epsilon);
        Tensor identity = eye(a.shape[0], dtype: ScalarType.Float64, device: a.device);
        for (double relative = 0; relative <= LinearAlgebraSettings.MaxRelativeJitter; relative = relative == 0 ? LinearAlgebraSettings.FirstRelativeJitter : relative * 10)
        {
            double jitter = relative * meanDiagonal;
            var (lower, info) = linalg.cholesky_ex(jitter == 0 ? a : a.Plus(identity.Times(jitter)));
            if (info.item<int>() == 0) return new DenseCholesky(scope.MoveToOuter(lower), jitter);
        }
        throw new InvalidOperationException($"The {a.shape[0]}×{a.shape[0]} matrix is not positive definite even with a jitter of " +
                                            $"{LinearAlgebraSettings.MaxRelativeJitter:E0} times its mean diagonal ({meanDiagonal:E3}).");
    }

    /// <summary>(A + Jitter·I)⁻¹ B for B of shape [n, k].</summary>
    public Tensor Solve(Tensor b) => cholesky_solve(b.to(ScalarType.Float64), Lower);

    /// <summary>log det(A + Jitter·I) = 2 Σ log L_ii.</summary>
    public double LogDeterminant() => 2 * Lower.diagonal().log().sum().item<double>();
}
