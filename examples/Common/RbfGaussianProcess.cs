using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// The RBF-kernel baseline of the classification examples: an exact Gaussian process on the pretrained network's penultimate
/// features, regression on one-hot labels centred at 1/C, k(a, b) = s² exp(−|a − b|² / (2 ℓ²)). <see cref="Fit"/> chooses the
/// lengthscale ℓ (a multiple of the median pairwise distance), s² and σ² by the marginal likelihood over a grid and factorizes the
/// kernel; <see cref="Predict"/> gives the posterior mean. The posterior mean of a one-hot regression estimates P(y = c | x)
/// directly, so the class probabilities are that mean clamped at 1e-3 and normalized (a softmax of values in [0, 1] would be nearly
/// uniform). Float64 throughout.
/// </summary>
public sealed class RbfGaussianProcess
{
    private static readonly double[] LengthscaleFactors = { 0.25, 0.5, 1, 2, 4 };
    private static readonly double[] SignalVariances = { 0.1, 0.3, 1, 3 };
    private static readonly double[] NoiseVariances = { 1e-3, 1e-2, 0.1, 0.3 };
    private readonly Tensor train, weights;
    private readonly double lengthscale, signal;
    private readonly int classes;

    private RbfGaussianProcess(Tensor train, Tensor weights, double lengthscale, double signal, int classes) =>
        (this.train, this.weights, this.lengthscale, this.signal, this.classes) = (train, weights, lengthscale, signal, classes);

    /// <summary>The GP of training features [N, D] and their class indices: hyperparameters by the marginal likelihood, K⁻¹ Y solved.</summary>
    public static RbfGaussianProcess Fit(Tensor trainFeatures, long[] labels, int classes)
    {
        using var scope = NewDisposeScope();
        Tensor x = trainFeatures.to(ScalarType.Float64);
        Tensor y = nn.functional.one_hot(tensor(labels), classes).to(ScalarType.Float64);
        y = HeldScalars.With(-1.0 / classes, c => y.add(c, HeldScalars.One));
        Tensor squared = Squared(cdist(x, x));
        var (l, s, noise) = Hyperparameters(squared, y, classes);
        Tensor lower = linalg.cholesky(WithNoise(Kernel(squared, l, s), noise));
        return new RbfGaussianProcess(scope.MoveToOuter(x), scope.MoveToOuter(cholesky_solve(y, lower)), l, s, classes);
    }

    /// <summary>Class probabilities [M] × C for test features [M, D].</summary>
    public float[][] Predict(Tensor testFeatures)
    {
        using var scope = NewDisposeScope();
        Tensor cross = Kernel(Squared(cdist(testFeatures.to(ScalarType.Float64), train)), lengthscale, signal);   // [M, N]
        Tensor mean = HeldScalars.With(1.0 / classes, c => cross.matmul(weights).add(c, HeldScalars.One));
        Tensor clamped = HeldScalars.With(1e-3, c => mean.clamp_min(c));
        Tensor p = clamped.div(clamped.sum(1, keepdim: true)).to(ScalarType.Float32);
        return Enumerable.Range(0, (int)p.shape[0]).Select(i => p[i].data<float>().ToArray()).ToArray();
    }

    /// <summary>ℓ, s² and σ² of the grid with the highest log p(Y) over the C independent outputs.</summary>
    private static (double Lengthscale, double Signal, double Noise) Hyperparameters(Tensor squared, Tensor y, int classes)
    {
        long n = squared.shape[0];
        double median = n > 1 ? squared.sqrt().masked_select(ones(n, n, dtype: ScalarType.Bool).triu(1)).median().item<double>() : 1;
        var best = (Value: double.NegativeInfinity, L: 1.0, S: 1.0, Noise: 0.1);
        foreach (double factor in LengthscaleFactors)
            foreach (double signal in SignalVariances)
                foreach (double noise in NoiseVariances)
                {
                    double l = Math.Max(factor * median, 1e-6);
                    Tensor lower = linalg.cholesky(WithNoise(Kernel(squared, l, signal), noise));
                    Tensor alpha = cholesky_solve(y, lower);
                    // log p(Y) over the C independent outputs: −½ tr(Yᵀ K⁻¹ Y) − C Σ log L_ii − ½ N C log 2π.
                    double value = -0.5 * (y * alpha).sum().item<double>() - classes * lower.diagonal().log().sum().item<double>()
                                   - 0.5 * n * classes * Math.Log(2 * Math.PI);
                    if (value > best.Value) best = (value, l, signal, noise);
                }
        return (best.L, best.S, best.Noise);
    }

    // Every constant goes in as an explicit Scalar (HeldScalars): the grid runs hundreds of these per fit.
    private static Tensor Kernel(Tensor squaredDistances, double lengthscale, double signal)
    {
        Tensor scaled = HeldScalars.With(-2 * lengthscale * lengthscale, c => squaredDistances.div(c)).exp();
        return HeldScalars.With(signal, c => scaled.mul(c));
    }

    private static Tensor Squared(Tensor distances) => distances * distances;

    private static Tensor WithNoise(Tensor kernel, double noise) =>
        HeldScalars.With(noise, c => kernel.add(eye(kernel.shape[0], dtype: ScalarType.Float64).mul(c), HeldScalars.One));
}
