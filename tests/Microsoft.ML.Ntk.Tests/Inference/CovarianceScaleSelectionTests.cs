using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The held-out choice of the softmax Laplace covariance scale: its folds, the held-out latent covariance of each mode form
/// against the dense float64 formula, the choice as the grid's minimizer, and the fitted posterior's variance scaled by it.
/// </summary>
public class CovarianceScaleSelectionTests
{
    private const double DenseAgreement = 1e-9;    // two float64 routes through Cholesky factors of well-conditioned 75 × 75 systems

    [Fact]
    public void FoldsAreDealtOutByClass()
    {
        long[] labels = { 2, 0, 1, 0, 2, 1, 0, 1, 2, 0 };
        long[] fold = CovarianceScaleSelection.Folds(labels, folds: 3);
        // Sorted by class then position: 0s at 1, 3, 6, 9; 1s at 2, 5, 7; 2s at 0, 4, 8; dealt to folds 0, 1, 2, 0, 1, ...
        Assert.Equal(new long[] { 1, 0, 1, 1, 2, 2, 2, 0, 0, 0 }, fold);
        long[] single = CovarianceScaleSelection.Folds(Enumerable.Range(0, 10).Select(i => (long)i).ToArray(), folds: 5);
        Assert.All(Enumerable.Range(0, 5), f => Assert.Equal(2, single.Count(x => x == f)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheHeldOutCovarianceOfAModeIsTheDenseLaplaceCovariance(bool independent)
    {
        manual_seed(91);
        long n = 25, c = 3, held = 5, train = n - held;
        double s2 = 0.7;
        Tensor full = RandomKernel(n * c, independent ? 0 : 8);                       // [N·C, N·C], layout n·C + c
        if (independent) full = full * BlockMask(n, c);
        Tensor prior = randn(train, c, dtype: ScalarType.Float64);
        Tensor onehot = nn.functional.one_hot(randint(0, c, train, dtype: ScalarType.Int64), c).to(ScalarType.Float64);
        var tight = new SolverSettings(Tolerance: 1e-12, MaxIterations: 5000);
        long t = train * c;
        Tensor ktt = full.narrow(0, 0, t).narrow(1, 0, t), kth = full.narrow(0, 0, t).narrow(1, t, held * c);
        Tensor khh = full.narrow(0, t, held * c).narrow(1, t, held * c);
        Tensor own = khh.reshape(held, c, held, c).diagonal(0, 0, 2).permute(2, 0, 1);        // [Nh, C, C]
        ISoftmaxMode mode;
        Tensor covariance;
        if (independent)
        {
            Tensor blocks = stack(Enumerable.Range(0, (int)c).Select(k => ktt.reshape(train, c, train, c)[.., k, .., k]).ToArray());
            Tensor cross = stack(Enumerable.Range(0, (int)c).Select(k => kth.reshape(train, c, held, c)[.., k, .., k]).ToArray());
            var solved = IndependentLaplace.Solve(blocks, prior, onehot, s2, tight);
            mode = solved;
            covariance = solved.Covariance(cross, own.diagonal(0, 1, 2), s2);
        }
        else
        {
            var solved = LatentLaplace.Solve(ktt, prior, onehot, s2, tight);
            mode = solved;
            covariance = solved.Covariance(kth, own, s2);
        }
        // Dense reference: Σ* = s² K** − s⁴ K*ᵀ S (I + s² S K S)⁻¹ S K*, S = Λ^½ at the mode's probabilities.
        Tensor latent = prior.reshape(-1).Plus(ktt.matmul(mode.Weights.reshape(-1)).Times(s2)).reshape(train, c);
        Tensor root = CurvatureBlocks.At(latent.softmax(1)).Dense();
        Tensor system = eye(t, dtype: ScalarType.Float64).Plus(root.matmul(ktt).matmul(root).Times(s2));
        Tensor projected = root.matmul(kth);
        Tensor reference = khh.Times(s2) - projected.t().matmul(linalg.solve(system, projected)).Times(s2 * s2);
        Tensor referenceBlocks = reference.reshape(held, c, held, c).diagonal(0, 0, 2).permute(2, 0, 1);
        Tolerances.AssertClose(covariance, referenceBlocks, DenseAgreement, independent ? "independent outputs" : "full kernel");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheChosenScaleHasTheLowestHeldOutNllOfTheGrid(bool independent)
    {
        var (kernel, prior, onehot, labels) = SeparableProblem(independent);
        var settings = new ClassificationSettings(IndependentOutputs: independent, CovarianceScale: null);
        var choice = CovarianceScaleSelection.Choose(kernel, prior, onehot, labels, independent, 2.0, mode: null, new SolverSettings(), settings);
        Assert.Equal(InferenceSettings.CovarianceScaleGrid.Length, choice.Tried.Count);
        Assert.All(choice.Tried, t => Assert.True(double.IsFinite(t.HeldOutNll), $"NLL {t.HeldOutNll} at τ = {t.Scale}"));
        Assert.Equal(choice.Tried.MinBy(t => t.HeldOutNll).Scale, choice.Scale);
        // Labels a linear function of the features separates perfectly: the held-out NLL falls as the variance shrinks.
        Assert.True(choice.Scale < 1, $"τ = {choice.Scale}");
    }

    /// <summary>
    /// Each fold frees its restricted kernel, mode and cross kernel before the next: the tensors alive at each fold's first
    /// Newton iteration grow only by what the folds before it returned (a held-out mean, covariance and labels each).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EachFoldFreesItsTensorsBeforeTheNext(bool independent)
    {
        var (kernel, prior, onehot, labels) = SeparableProblem(independent);
        var firsts = new List<long>();
        int last = int.MaxValue;
        var solver = new SolverSettings(Progress: (_, step, _) =>
        {
            if (step <= last) firsts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            last = step;
        });
        var settings = new ClassificationSettings(IndependentOutputs: independent, CovarianceScale: null);
        CovarianceScaleSelection.Choose(kernel, prior, onehot, labels, independent, 2.0, mode: null, solver, settings);
        Assert.Equal(InferenceSettings.CovarianceScaleFolds, firsts.Count);
        long growth = firsts[^1] - firsts[0];
        Assert.True(growth <= 3 * (firsts.Count - 1), $"{growth} more live tensors at the last fold's first Newton iteration than at the first's");
    }

    [Fact]
    public void AFitWithTheScaleChosenPredictsTheSameMeanAndTheScaledVariance()
    {
        var test = TestNetworks.Create("mlp-tanh");
        manual_seed(93);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        long n = test.Inputs.shape[0], c = network.Output(network.Prepare(test.Inputs)).shape[1];
        Tensor labels = tensor(Enumerable.Range(0, (int)n).Select(i => (long)(i % c)).ToArray());
        var chosen = GaussianProcessClassification.Fit(network, test.Inputs, labels, new ClassificationSettings(PriorVariance: 3.0, CovarianceScale: null));
        var plain = GaussianProcessClassification.Fit(network, test.Inputs, labels, new ClassificationSettings(PriorVariance: 3.0, CovarianceScale: 1));
        double tau = chosen.Report.CovarianceScale;
        Assert.Contains(tau, InferenceSettings.CovarianceScaleGrid);
        Assert.Equal(tau != 1, chosen.Variance is ScaledVariance);
        Tensor queries = randn_like(test.Inputs);
        var a = chosen.Predict(queries);
        var b = plain.Predict(queries);
        Tolerances.AssertClose(a.LatentMean, b.LatentMean, 1e-12, "latent mean");
        Tolerances.AssertClose(a.LatentVariance, b.LatentVariance.Times(tau), 1e-12, "latent variance");
    }

    private static Tensor RandomKernel(long size, long rank)
    {
        Tensor features = randn(size, rank > 0 ? rank : size, dtype: ScalarType.Float64);
        return features.matmul(features.t()).Over(features.shape[1]).Plus(eye(size, dtype: ScalarType.Float64).Times(0.1));
    }

    /// <summary>1 where two outputs belong to the same class (layout n·C + c), 0 elsewhere.</summary>
    private static Tensor BlockMask(long n, long c)
    {
        Tensor classes = tensor(Enumerable.Range(0, (int)(n * c)).Select(i => (long)(i % c)).ToArray());
        return classes.unsqueeze(1).eq(classes.unsqueeze(0)).to(ScalarType.Float64);
    }

    /// <summary>40 inputs of 3 classes whose labels are the argmax of a linear function of 4 features; a linear kernel.</summary>
    private static (Tensor Kernel, Tensor Prior, Tensor Onehot, Tensor Labels) SeparableProblem(bool independent)
    {
        manual_seed(92);
        long n = 40, c = 3;
        Tensor features = randn(n, 4, dtype: ScalarType.Float64);
        Tensor labels = features.matmul(randn(4, c, dtype: ScalarType.Float64)).argmax(1);
        Tensor gram = features.matmul(features.t());
        Tensor kernel = independent ? stack(Enumerable.Repeat(gram, (int)c).ToArray())
                                    : kron(gram, eye(c, dtype: ScalarType.Float64));
        return (kernel, zeros(n, c, dtype: ScalarType.Float64), SoftmaxLink.Targets(labels, c), labels);
    }
}
