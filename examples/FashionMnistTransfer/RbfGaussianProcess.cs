using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.FashionMnist;

/// <summary>
/// The RBF-kernel baseline: an exact Gaussian process on the pretrained network's penultimate features (the 32 pooled
/// channels), regression on one-hot labels centred at 1/C, k(a, b) = s² exp(−|a − b|² / (2 ℓ²)). The lengthscale ℓ (a multiple of
/// the median pairwise distance), s² and σ² maximize the marginal likelihood over a grid. The posterior mean of a one-hot
/// regression estimates P(y = c | x) directly, so the class probabilities are that mean clamped at 1e-3 and normalized (a softmax of
/// values in [0, 1] would be nearly uniform). Float64 throughout.
/// </summary>
public static class RbfGaussianProcess
{
    private static readonly double[] LengthscaleFactors = { 0.25, 0.5, 1, 2, 4 };
    private static readonly double[] SignalVariances = { 0.1, 0.3, 1, 3 };
    private static readonly double[] NoiseVariances = { 1e-3, 1e-2, 0.1, 0.3 };

    /// <summary>Class probabilities [M] × C for test features [M, D] from training features [N, D] and labels.</summary>
    public static float[][] Predict(Tensor trainFeatures, long[] labels, int classes, Tensor testFeatures)
    {
        using var scope = NewDisposeScope();
        Tensor x = trainFeatures.to(ScalarType.Float64), xs = testFeatures.to(ScalarType.Float64);
        long n = x.shape[0];
        Tensor y = nn.functional.one_hot(tensor(labels), classes).to(ScalarType.Float64).sub(1.0 / classes);
        Tensor squared = cdist(x, x).pow(2);
        double median = n > 1 ? cdist(x, x).masked_select(ones(n, n, dtype: ScalarType.Bool).triu(1)).median().item<double>() : 1;
        var best = (Value: double.NegativeInfinity, L: 1.0, S: 1.0, Noise: 0.1);
        foreach (double factor in LengthscaleFactors)
            foreach (double signal in SignalVariances)
                foreach (double noise in NoiseVariances)
                {
                    double l = Math.Max(factor * median, 1e-6);
                    Tensor k = squared.div(-2 * l * l).exp().mul(signal) + eye(n, dtype: ScalarType.Float64).mul(noise);
                    Tensor lower = linalg.cholesky(k);
                    Tensor alpha = cholesky_solve(y, lower);
                    // log p(Y) over the C independent outputs: −½ tr(Yᵀ K⁻¹ Y) − C Σ log L_ii − ½ N C log 2π.
                    double value = -0.5 * (y * alpha).sum().item<double>() - classes * lower.diagonal().log().sum().item<double>()
                                   - 0.5 * n * classes * Math.Log(2 * Math.PI);
                    if (value > best.Value) best = (value, l, signal, noise);
                }
        Tensor kernel = squared.div(-2 * best.L * best.L).exp().mul(best.S) + eye(n, dtype: ScalarType.Float64).mul(best.Noise);
        Tensor factorLower = linalg.cholesky(kernel);
        Tensor cross = cdist(xs, x).pow(2).div(-2 * best.L * best.L).exp().mul(best.S);       // [M, N]
        Tensor mean = cross.matmul(cholesky_solve(y, factorLower)).add(1.0 / classes);
        Tensor clamped = mean.clamp_min(1e-3);
        Tensor p = clamped.div(clamped.sum(1, keepdim: true)).to(ScalarType.Float32);
        return Enumerable.Range(0, (int)p.shape[0]).Select(i => p[i].data<float>().ToArray()).ToArray();
    }
}
