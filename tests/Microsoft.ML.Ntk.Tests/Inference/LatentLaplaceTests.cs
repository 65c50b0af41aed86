using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Inference.ParameterSpaceReference;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The function-space Newton of the softmax Laplace against the parameter-space Newton it replaced (kept in the tests
/// as a reference): the same mode, evidence and probabilities. Both solve to a relative gradient of 1e-12 in float64, so
/// the two modes differ by about 1e-12 times the Hessian's condition; 1e-8 leaves room for conditions up to 1e4.
/// </summary>
public class LatentLaplaceTests
{
    private const double AgreementTolerance = 1e-8;

    [Theory]
    [InlineData("cnn-batchnorm", true, false, 0.8)]
    [InlineData("resnet", false, false, 3.0)]
    [InlineData("mlp-tanh", true, false, 0.3)]
    [InlineData("mlp-relu", true, true, 1.5)]
    public void TheLatentModeEqualsTheParameterSpaceMode(string name, bool networkMean, bool independent, double s2)
    {
        var test = TestNetworks.Create(name);
        manual_seed(73);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        using var x = network.Prepare(test.Inputs);
        Tensor f0 = network.Output(x).to(ScalarType.Float64);
        long n = f0.shape[0], c = f0.shape[1];
        Tensor labels = randint(0, c, n, dtype: ScalarType.Int64);
        Tensor prior = networkMean ? f0 : zeros_like(f0);
        Tensor kernel = network.Kernel(x, x);
        if (independent) kernel = OutputCoupling.Independent(kernel, c);
        var tight = new SolverSettings(Tolerance: 1e-12, MaxIterations: 5000);

        var mode = LatentLaplace.Solve(kernel, prior, nn.functional.one_hot(labels, c).to(ScalarType.Float64), s2, tight);
        var map = SoftmaxMap.Solve(network, x, prior, labels, s2, tight, independentOutputs: independent);
        var (_, logDet, _) = LaplaceApproximation.Factor(kernel, map.Probabilities, s2);

        Assert.True(mode.Converged, $"gradient {mode.GradientNorm:E2} of {mode.InitialGradientNorm:E2} after {mode.NewtonIterations} iterations");
        Tolerances.AssertClose(mode.Probabilities, map.Probabilities, AgreementTolerance, $"{name} probabilities at the mode");
        var problem = new RegressionProblem(network, test.Inputs, targets: null);
        Tensor shift = DenseRegression.ParameterShift(problem, mode.Weights, s2, independent);
        Tolerances.AssertClose(shift.reshape(-1), map.Shift.reshape(-1), AgreementTolerance, $"{name} Δθ̂");
        if (independent)
        {
            Tensor fromRows = DenseRegression.ParameterShift(problem, mode.Weights, s2, independent, problem.Network.JacobianByOutput(problem.Inputs));
            Tolerances.AssertClose(fromRows.reshape(-1), map.Shift.reshape(-1), AgreementTolerance, $"{name} Δθ̂ from the Jacobian by output");
        }
        double evidence = -map.Objective - 0.5 * logDet;
        Assert.True(Math.Abs(mode.Evidence - evidence) <= AgreementTolerance * Math.Max(1, Math.Abs(evidence)),
                    $"{name} evidence {mode.Evidence:R} against {evidence:R}");
    }

    /// <summary>Independent outputs: the block solver (C factorizations of N × N) finds the mode and evidence of the masked kernel.</summary>
    [Theory]
    [InlineData("cnn-batchnorm", true, 0.8)]
    [InlineData("mlp-tanh", false, 5.0)]
    [InlineData("resnet", true, 0.05)]
    public void TheBlockSolverEqualsTheLatentSolverOnTheMaskedKernel(string name, bool networkMean, double s2)
    {
        var test = TestNetworks.Create(name);
        manual_seed(76);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        using var x = network.Prepare(test.Inputs);
        Tensor f0 = network.Output(x).to(ScalarType.Float64);
        long n = f0.shape[0], c = f0.shape[1];
        Tensor onehot = nn.functional.one_hot(randint(0, c, n, dtype: ScalarType.Int64), c).to(ScalarType.Float64);
        Tensor prior = networkMean ? f0 : zeros_like(f0);
        Tensor kernel = OutputCoupling.Independent(network.Kernel(x, x), c);
        Tensor blocks = kernel.reshape(n, c, n, c).diagonal(0, 1, 3).permute(2, 0, 1).contiguous();
        var tight = new SolverSettings(Tolerance: 1e-12, MaxIterations: 5000);

        var coupled = LatentLaplace.Solve(kernel, prior, onehot, s2, tight);
        var independent = IndependentLaplace.Solve(blocks, prior, onehot, s2, tight);
        Assert.True(independent.Converged, $"gradient {independent.GradientNorm:E2} after {independent.NewtonIterations} iterations");
        Tolerances.AssertClose(independent.Weights, coupled.Weights, AgreementTolerance, $"{name} mode weights");
        Assert.True(Math.Abs(independent.Evidence - coupled.Evidence) <= AgreementTolerance * Math.Max(1, Math.Abs(coupled.Evidence)),
                    $"{name} evidence {independent.Evidence:R} against {coupled.Evidence:R}");
    }

    /// <summary>
    /// Independent outputs: the predictive covariance from the per-class factors (no N·C × N·C system) equals the one from
    /// the root of the whole masked system at the same mode. The CNN keeps its training Jacobian by output, the MLP (a
    /// structured kernel) computes the cross kernel per prediction.
    /// </summary>
    [Theory]
    [InlineData("cnn-batchnorm", 0.8)]
    [InlineData("mlp-tanh", 5.0)]
    public void TheBlockVarianceEqualsTheVarianceOfTheWholeMaskedSystem(string name, double s2)
    {
        var test = TestNetworks.Create(name);
        manual_seed(77);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        using var x = network.Prepare(test.Inputs);
        Tensor f0 = network.Output(x).to(ScalarType.Float64);
        long n = f0.shape[0], c = f0.shape[1];
        Tensor onehot = nn.functional.one_hot(randint(0, c, n, dtype: ScalarType.Int64), c).to(ScalarType.Float64);
        Tensor kernel = OutputCoupling.Independent(network.Kernel(x, x), c);
        var tight = new SolverSettings(Tolerance: 1e-12, MaxIterations: 5000);
        var mode = IndependentLaplace.Solve(network.KernelBlocks(x), f0, onehot, s2, tight);
        var whole = LatentLaplace.Solve(kernel, f0, onehot, s2, tight, start: mode.Weights);     // the whole system, from the same mode
        Assert.True(whole.NewtonIterations <= 1, $"{whole.NewtonIterations} Newton steps from the block solve's mode");
        var reference = new KernelSpaceVariance(network, x, whole.Root(), s2, independentOutputs: true);
        var blocks = (IndependentLaplaceVariance)mode.Variance(network, x, s2);
        Assert.Equal(name == "cnn-batchnorm", blocks.KeepsTrainingRows);

        using var star = new TestInputs(network, randn_like(test.Inputs).narrow(0, 0, 2));
        Tolerances.AssertClose(blocks.Covariance(star), reference.Covariance(star), AgreementTolerance, $"{name} C×C covariance");
        Tolerances.AssertClose(blocks.Latent(star), reference.Latent(star), AgreementTolerance, $"{name} latent variance");
        Assert.True(Math.Abs(mode.Evidence - whole.Evidence) <= AgreementTolerance * Math.Max(1, Math.Abs(whole.Evidence)));
    }

    /// <summary>
    /// The evidence search's stopping rule is a bound: a mode stopped once ½ s² |g|² ≤ ε has an objective within ε of the
    /// exact mode's, for both solvers, and stops no later than the tight solve.
    /// </summary>
    [Theory]
    [InlineData(1e-2)]
    [InlineData(1e-5)]
    public void AModeStoppedByTheObjectiveBoundIsWithinItOfTheExactMode(double accuracy)
    {
        manual_seed(75);
        long n = 40, c = 3;
        Tensor features = randn(n, 5, dtype: ScalarType.Float64);
        Tensor labels = features.matmul(randn(5, c, dtype: ScalarType.Float64)).Plus(randn(n, c, dtype: ScalarType.Float64)).argmax(1);
        Tensor gram = features.matmul(features.t());
        Tensor kernel = kron(gram, eye(c, dtype: ScalarType.Float64));
        Tensor blocks = gram.unsqueeze(0).expand(c, n, n).contiguous();
        Tensor onehot = nn.functional.one_hot(labels, c).to(ScalarType.Float64);
        Tensor prior = zeros(n, c, dtype: ScalarType.Float64);
        var tight = new SolverSettings(Tolerance: 1e-12);
        const double s2 = 30;
        var exact = LatentLaplace.Solve(kernel, prior, onehot, s2, tight);
        var bounded = LatentLaplace.Solve(kernel, prior, onehot, s2, tight, objectiveAccuracy: accuracy);
        Assert.InRange(bounded.Objective - exact.Objective, -1e-12, accuracy);
        Assert.True(bounded.NewtonIterations <= exact.NewtonIterations);
        var exactBlocks = IndependentLaplace.Solve(blocks, prior, onehot, s2, tight);
        var boundedBlocks = IndependentLaplace.Solve(blocks, prior, onehot, s2, tight, objectiveAccuracy: accuracy);
        Assert.InRange(boundedBlocks.Objective - exactBlocks.Objective, -1e-12, accuracy);
        Assert.True(0.5 * s2 * boundedBlocks.GradientNorm * boundedBlocks.GradientNorm <= accuracy);
        if (accuracy >= 1e-2) Assert.True(bounded.NewtonIterations < exact.NewtonIterations, "the bound should stop a cold solve early");
    }

    /// <summary>
    /// A held-out fold's mode started from the full mode's latent values at its inputs (what the covariance-scale choice
    /// does) is the fold's own mode, the one a cold start finds, and it takes fewer Newton steps.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AFoldStartedFromTheFullModesLatentValuesFindsItsOwnModeInFewerSteps(bool independent)
    {
        manual_seed(78);
        long n = 60, c = 3, kept = 48;
        Tensor features = randn(n, 5, dtype: ScalarType.Float64);
        Tensor labels = features.matmul(randn(5, c, dtype: ScalarType.Float64)).Plus(randn(n, c, dtype: ScalarType.Float64).Times(0.5)).argmax(1);
        Tensor gram = features.matmul(features.t()).Plus(eye(n, dtype: ScalarType.Float64).Times(0.1));
        Tensor onehot = nn.functional.one_hot(labels, c).to(ScalarType.Float64);
        Tensor prior = randn(n, c, dtype: ScalarType.Float64).Times(0.3);
        var tight = new SolverSettings(Tolerance: 1e-12);
        const double s2 = 20;
        Tensor fold = arange(kept);
        Tensor gramFold = gram.index_select(0, fold).index_select(1, fold), priorFold = prior.index_select(0, fold), onehotFold = onehot.index_select(0, fold);
        Tensor latent;
        (Tensor Weights, int Iterations) cold, warm;
        if (independent)
        {
            Tensor Blocks(Tensor g) => g.unsqueeze(0).expand(c, g.shape[0], g.shape[0]).contiguous();
            var full = IndependentLaplace.Solve(Blocks(gram), prior, onehot, s2, tight);
            latent = prior.Plus(gram.matmul(full.Weights.reshape(n, c)).Times(s2));
            var a = IndependentLaplace.Solve(Blocks(gramFold), priorFold, onehotFold, s2, tight);
            var b = IndependentLaplace.Solve(Blocks(gramFold), priorFold, onehotFold, s2, tight, startLatent: latent.index_select(0, fold));
            Assert.True(a.Converged && b.Converged);
            (cold, warm) = ((a.Weights, a.NewtonIterations), (b.Weights, b.NewtonIterations));
        }
        else
        {
            Tensor kernel = kron(gram, eye(c, dtype: ScalarType.Float64)), kernelFold = kron(gramFold, eye(c, dtype: ScalarType.Float64));
            var full = LatentLaplace.Solve(kernel, prior, onehot, s2, tight);
            latent = prior.Plus(kernel.matmul(full.Weights).reshape(n, c).Times(s2));
            var a = LatentLaplace.Solve(kernelFold, priorFold, onehotFold, s2, tight);
            var b = LatentLaplace.Solve(kernelFold, priorFold, onehotFold, s2, tight, startLatent: latent.index_select(0, fold));
            Assert.True(a.Converged && b.Converged);
            (cold, warm) = ((a.Weights, a.NewtonIterations), (b.Weights, b.NewtonIterations));
        }
        Tolerances.AssertClose(warm.Weights, cold.Weights, AgreementTolerance, "fold mode weights");
        Assert.True(warm.Iterations < cold.Iterations, $"{warm.Iterations} Newton steps from the full mode's latent values, {cold.Iterations} from a = 0");
    }

    /// <summary>
    /// Newton steps by factors with independent outputs reach a tight tolerance when some classes are nearly certain at a
    /// large s² (Σ_c E_c ill-conditioned): the steps are refined against their residual. Without the refinement this solve
    /// stagnated.
    /// </summary>
    [Fact]
    public void ALongSolveKeepsNoTensorsOfItsIterations()
    {
        // A separable problem with a large prior variance needs many Newton steps, each with a line search.
        manual_seed(74);
        long n = 60, c = 4;
        Tensor features = randn(n, 6, dtype: ScalarType.Float64);
        Tensor labels = features.matmul(randn(6, c, dtype: ScalarType.Float64)).argmax(1);
        Tensor kernel = kron(features.matmul(features.t()), eye(c, dtype: ScalarType.Float64));
        Tensor onehot = nn.functional.one_hot(labels, c).to(ScalarType.Float64);
        Tensor prior = zeros(n, c, dtype: ScalarType.Float64);
        var settings = new SolverSettings(Tolerance: 1e-12);

        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var warmUp = LatentLaplace.Solve(kernel, prior, onehot, 1e3, settings);
        long before = Live();
        var mode = LatentLaplace.Solve(kernel, prior, onehot, 1e4, settings);
        long after = Live();
        Assert.True(mode.NewtonIterations >= 8, $"only {mode.NewtonIterations} Newton iterations: the test needs a long solve");
        // What a mode keeps: weights, probabilities, Λ and S blocks, and the Cholesky factor.
        Assert.True(after - before <= 5, $"{after - before} tensors more after a solve of {mode.NewtonIterations} iterations");
        GC.KeepAlive(warmUp);
    }

    [Fact]
    public void AToleranceBelowRoundingStopsAtTheRoundingFloor()
    {
        // A tolerance below rounding cannot be reached: the solve stops at the rounding floor instead of looping.
        manual_seed(75);
        long n = 20, c = 3;
        Tensor features = randn(n, 4, dtype: ScalarType.Float64);
        Tensor kernel = kron(features.matmul(features.t()), eye(c, dtype: ScalarType.Float64));
        Tensor onehot = nn.functional.one_hot(randint(0, c, n, dtype: ScalarType.Int64), c).to(ScalarType.Float64);
        var mode = LatentLaplace.Solve(kernel, zeros(n, c, dtype: ScalarType.Float64), onehot, 2.0, new SolverSettings(Tolerance: 1e-30));
        Assert.True(mode.NewtonIterations < InferenceSettings.MaxNewtonIterations, $"{mode.NewtonIterations} iterations");
        Assert.True(mode.GradientNorm <= 1e-10 * mode.InitialGradientNorm);
    }
}
