using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// log N(y | m, s² K0 + σ² I) and its gradient, exactly, for many (s², σ²) at O(n) each: K0 = U diag(λ) Uᵀ is
/// decomposed once, so with d_i = s² λ_i + σ² and r̃ = Uᵀ (y − m),
/// log p = −½ Σ r̃_i² / d_i − ½ Σ log d_i − (n/2) log 2π. A constant mean (one value per output) is profiled out by
/// generalized least squares at each (s², σ²); by the envelope theorem the gradient keeps the same form.
/// </summary>
internal sealed class ExactMarginalLikelihood : IMarginalLikelihood
{
    private readonly double[] eigenvalues;
    private readonly double[] rotatedResidual;
    private readonly double[][]? rotatedDesign;   // per output column: Uᵀ h_c, for the constant mean

    /// <param name="kernel">K0, [n, n], symmetric positive semi-definite.</param>
    /// <param name="residual">y − m for a fixed mean, or y when a constant mean is learned; [n].</param>
    /// <param name="outputs">With a constant mean: C, the number of outputs (entry i belongs to output i mod C); else null.</param>
    public ExactMarginalLikelihood(Tensor kernel, Tensor residual, int? outputs)
    {
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(kernel.to(ScalarType.Float64));
        eigenvalues = values.AtLeast(0).data<double>().ToArray();
        rotatedResidual = vectors.t().matmul(residual.to(ScalarType.Float64)).data<double>().ToArray();
        if (outputs is { } c)
        {
            long n = kernel.shape[0];
            Tensor design = zeros(n, c, dtype: ScalarType.Float64);
            for (long i = 0; i < n; i++) design[i, i % c] = 1;
            Tensor rotated = vectors.t().matmul(design);
            rotatedDesign = Enumerable.Range(0, c).Select(j => rotated[.., j].data<double>().ToArray()).ToArray();
        }
    }

    public int Size => eigenvalues.Length;

    /// <summary>The log marginal likelihood, its derivatives with respect to s² and σ², and the profiled constant mean.</summary>
    public (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double priorVariance, double noiseVariance)
    {
        int n = eigenvalues.Length;
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = priorVariance * eigenvalues[i] + noiseVariance;
        var (r, constant) = ProfiledResidual(d);
        double quadratic = 0, logDet = 0, dPrior = 0, dNoise = 0;
        for (int i = 0; i < n; i++)
        {
            double ri = r[i], di = d[i], weighted = ri * ri / (di * di);
            quadratic += ri * ri / di;
            logDet += Math.Log(di);
            dPrior += 0.5 * (weighted - 1 / di) * eigenvalues[i];
            dNoise += 0.5 * (weighted - 1 / di);
        }
        return (-0.5 * quadratic - 0.5 * logDet - 0.5 * n * Math.Log(2 * Math.PI), dPrior, dNoise, constant);
    }

    private (double[] Residual, double[] Constant) ProfiledResidual(double[] d)
    {
        if (rotatedDesign is null) return (rotatedResidual, Array.Empty<double>());
        int c = rotatedDesign.Length, n = d.Length;
        // (Hᵀ K⁻¹ H) b = Hᵀ K⁻¹ y in the eigenbasis
        var gram = new double[c, c];
        var rhs = new double[c];
        for (int p = 0; p < c; p++)
        {
            for (int i = 0; i < n; i++) rhs[p] += rotatedDesign[p][i] * rotatedResidual[i] / d[i];
            for (int q = 0; q < c; q++)
                for (int i = 0; i < n; i++) gram[p, q] += rotatedDesign[p][i] * rotatedDesign[q][i] / d[i];
        }
        double[] constant = SolveSmall(gram, rhs);
        var residual = (double[])rotatedResidual.Clone();
        for (int p = 0; p < c; p++)
            for (int i = 0; i < n; i++) residual[i] -= rotatedDesign[p][i] * constant[p];
        return (residual, constant);
    }

    private static double[] SolveSmall(double[,] a, double[] b)
    {
        int c = b.Length;
        using var matrix = tensor(Enumerable.Range(0, c * c).Select(k => a[k / c, k % c]).ToArray(), dtype: ScalarType.Float64).reshape(c, c);
        using var vector = tensor(b, dtype: ScalarType.Float64).reshape(c, 1);
        using var solution = linalg.solve(matrix, vector);
        return solution.reshape(-1).data<double>().ToArray();
    }
}
