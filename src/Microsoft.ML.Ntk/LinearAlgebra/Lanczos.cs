using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// Lanczos tridiagonalization Qᵀ A Q = T of a symmetric operator from k starting vectors at once, with full
/// reorthogonalization (the basis is kept: n × k × steps in float64). For each start vector it gives T's diagonal
/// (alphas) and off-diagonal (betas); a start vector whose Krylov space is exhausted stops early (its beta is 0).
/// </summary>
internal sealed record LanczosResult(Tensor Alphas, Tensor Betas, Tensor Basis, int Steps)
{
    /// <summary>T for start vector j as a dense [Steps, Steps] matrix.</summary>
    public Tensor Tridiagonal(long j)
    {
        Tensor t = zeros(Steps, Steps, dtype: Alphas.dtype, device: Alphas.device);
        t.diagonal().copy_(Alphas[j]);
        if (Steps > 1)
        {
            t.diagonal(1).copy_(Betas[j]);
            t.diagonal(-1).copy_(Betas[j]);
        }
        return t;
    }
}

internal static class Lanczos
{
    public static LanczosResult Tridiagonalize(LinearOperator a, Tensor start, int steps, CancellationToken cancellation = default)
    {
        if (a.Rows != a.Columns) throw new ArgumentException($"Lanczos needs a square operator; {a} is not.");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "At least one Lanczos step is needed.");
        using var scope = NewDisposeScope();
        long n = a.Rows, k = start.shape[1];
        steps = (int)Math.Min(steps, n);
        Tensor q = start.to(ScalarType.Float64);
        q = q / ScalarSafe.ColumnNorms(q, keepdim: true).AtLeast(1e-300);
        var basis = new List<Tensor> { q };
        var alphas = new List<Tensor>();
        var betas = new List<Tensor>();
        for (int i = 0; i < steps; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();   // the reorthogonalization makes O(i) temporaries of size n × k per step
            Tensor w = a.Multiply(basis[i]).to(ScalarType.Float64);
            alphas.Add(step.MoveToOuter((w * basis[i]).sum(dim: 0)));
            // full reorthogonalization, twice ("twice is enough")
            for (int pass = 0; pass < 2; pass++)
                foreach (var previous in basis) w = w - previous * (w * previous).sum(dim: 0, keepdim: true);
            if (i == steps - 1) break;
            Tensor beta = ScalarSafe.ColumnNorms(w, keepdim: true);
            betas.Add(step.MoveToOuter(beta.squeeze(0)));
            basis.Add(step.MoveToOuter(where(beta.Above(1e-12), w / beta.AtLeast(1e-300), zeros_like(w))));
        }
        Tensor alphaMatrix = stack(alphas.ToArray(), 1);
        Tensor betaMatrix = betas.Count == 0 ? zeros(k, 0, dtype: ScalarType.Float64) : stack(betas.ToArray(), 1);
        return new LanczosResult(scope.MoveToOuter(alphaMatrix), scope.MoveToOuter(betaMatrix),
                                 scope.MoveToOuter(stack(basis.ToArray(), 2)), alphas.Count);
    }

    /// <summary>
    /// Stochastic Lanczos quadrature: log det A = E[zᵀ log(A) z] for probes with E[z zᵀ] = I, and each zᵀ log(A) z ≈
    /// |z|² Σ_i τ_i² log θ_i with θ, τ the eigenvalues and first eigenvector components of T for start vector z.
    /// Returns one estimate per probe (column of <paramref name="probes"/>); their mean estimates log det A.
    /// </summary>
    public static double[] LogDeterminantSamples(LinearOperator a, Tensor probes, int steps, CancellationToken cancellation = default)
    {
        using var scope = NewDisposeScope();
        var result = Tridiagonalize(a, probes, steps, cancellation);
        Tensor squaredNorms = probes.to(ScalarType.Float64).Squared().sum(dim: 0);
        var samples = new double[probes.shape[1]];
        for (long j = 0; j < samples.Length; j++)
        {
            var (values, vectors) = linalg.eigh(result.Tridiagonal(j));
            Tensor weights = vectors[0].Squared();
            samples[j] = squaredNorms[j].item<double>() * (weights * values.AtLeast(1e-300).log()).sum().item<double>();
        }
        return samples;
    }
}
