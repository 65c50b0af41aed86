using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The Bernoulli Laplace of a one-output network (its output the log-odds of the positive class) against a separately
/// coded dense float64 Newton solve in parameter space with the explicit Jacobian: MAP Δθ, latent mean and variance, the
/// probit probability, and the Laplace evidence. A two-output network's binary prediction is the log-odds f₁ − f₀ of the
/// softmax posterior. Both solves go to a relative gradient of 1e-12; 1e-6 is <see cref="PosteriorTolerance"/> as for softmax.
/// </summary>
public class BinaryClassificationTests
{
    private const double PosteriorTolerance = 1e-6;

    private sealed record DenseReference(Tensor Shift, Tensor LogOdds, Tensor Variance, double Evidence);

    private static DenseReference Reference(nn.Module network, Tensor inputs, Tensor labels, Tensor testInputs, double s2, bool networkMean)
    {
        var parameters = network.parameters().ToList<Tensor>();
        Tensor j = ReferenceJacobian.ByRows(network, inputs, parameters), jStar = ReferenceJacobian.ByRows(network, testInputs, parameters);
        Tensor f0, f0Star;
        using (no_grad())
        {
            f0 = ReferenceJacobian.Call(network, inputs).to(ScalarType.Float64).reshape(-1);
            f0Star = ReferenceJacobian.Call(network, testInputs).to(ScalarType.Float64).reshape(-1);
        }
        if (!networkMean) { f0 = zeros_like(f0); f0Star = zeros_like(f0Star); }
        long p = j.shape[1];
        Tensor y = labels.to(ScalarType.Float64), shift = zeros(p, dtype: ScalarType.Float64), identity = eye(p, dtype: ScalarType.Float64);
        Tensor Hessian(Tensor q) => j.t().matmul((q * (1 - q)).unsqueeze(1) * j) + identity / s2;
        for (int iteration = 0; iteration < 100; iteration++)
        {
            Tensor q = (f0 + j.matmul(shift)).sigmoid();
            Tensor gradient = j.t().matmul(q - y) + shift / s2;
            if (gradient.norm().item<double>() < 1e-13) break;
            shift = shift - linalg.solve(Hessian(q), gradient);
        }
        Tensor f = f0 + j.matmul(shift), pHat = f.sigmoid();
        Tensor hessian = Hessian(pHat);
        double nll = -(y * pHat.log() + (1 - y) * (1 - pHat).log()).sum().item<double>();
        // log q(y) = −NLL − |Δθ|²/(2s²) − ½ log det(s² H): the parameter-space form of the evidence.
        double evidence = -nll - shift.dot(shift).item<double>() / (2 * s2) - 0.5 * linalg.slogdet(hessian * s2).Item2.item<double>();
        Tensor variance = (jStar.matmul(linalg.inv(hessian)) * jStar).sum(1);
        return new DenseReference(shift, f0Star + jStar.matmul(shift), variance, evidence);
    }

    private static nn.Module OneOutputMlp()
    {
        TorchSharpLoader.EnsureLoaded();
        manual_seed(91);
        var network = Architectures.Mlp(3, new long[] { 6, 5 }, 1, () => nn.Tanh());
        network.to(ScalarType.Float64);
        network.eval();
        return network;
    }

    [Theory]
    [InlineData(true, 0.8)]
    [InlineData(false, 3.0)]
    public void TheBernoulliLaplaceMatchesADenseNewtonSolve(bool networkMean, double s2)
    {
        var module = OneOutputMlp();
        manual_seed(92);
        Tensor inputs = randn(7, 3, dtype: ScalarType.Float64), testInputs = randn(3, 3, dtype: ScalarType.Float64);
        Tensor labels = tensor(new long[] { 1, 0, 0, 1, 1, 0, 1 });
        var network = new LinearizedNetwork(module, ParameterSelection.All, TangentMode.Auto, batchSize: 3);
        var settings = new ClassificationSettings(Mean: networkMean ? PriorMean.Network : PriorMean.Zero, PriorVariance: s2,
                                                  Solver: new SolverSettings(Tolerance: 1e-12, MaxIterations: 2000), CovarianceScale: 1);   // the Laplace variance itself is compared
        var posterior = GaussianProcessClassification.Fit(network, inputs, labels, settings);
        var reference = Reference(module, inputs, labels, testInputs, s2, networkMean);

        Assert.True(posterior.Report.SolverConverged, posterior.Report.ToString());
        Tolerances.AssertClose(posterior.ParameterShift.reshape(-1), reference.Shift, PosteriorTolerance, "MAP Δθ");
        var prediction = posterior.PredictBinary(testInputs);
        Tolerances.AssertClose(prediction.LogOdds, reference.LogOdds, PosteriorTolerance, "log-odds");
        Tolerances.AssertClose(prediction.Variance, reference.Variance, PosteriorTolerance, "log-odds variance");
        Tensor probit = (reference.LogOdds / (1 + Math.PI / 8 * reference.Variance).sqrt()).sigmoid();
        Tolerances.AssertClose(prediction.Probability, probit, PosteriorTolerance, "probit probability");
        Tolerances.AssertClose(posterior.Predict(testInputs).Probabilities.reshape(-1), probit, PosteriorTolerance, "Predict's probabilities");
        Assert.True(Math.Abs(posterior.Report.LogMarginalLikelihood - reference.Evidence) <= PosteriorTolerance * Math.Max(1, Math.Abs(reference.Evidence)),
                    $"evidence {posterior.Report.LogMarginalLikelihood:R} against {reference.Evidence:R}");
    }

    [Fact]
    public void TwoOutputsGiveTheLogOddsOfTheSoftmaxPosterior()
    {
        var test = TestNetworks.Create("mlp-tanh");
        Tensor labels = tensor(new long[] { 1, 0, 0, 1, 1 }), testInputs = randn(4, 3, dtype: ScalarType.Float64);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var posterior = GaussianProcessClassification.Fit(network, test.Inputs, labels, new ClassificationSettings(PriorVariance: 1.2));
        var binary = posterior.PredictBinary(testInputs);
        var softmax = posterior.Predict(testInputs);
        using var x = new TestInputs(network, testInputs);
        Tensor covariance = posterior.Variance.Covariance(x);
        Tolerances.AssertClose(binary.LogOdds, softmax.LatentMean[.., 1] - softmax.LatentMean[.., 0], 1e-12, "f₁ − f₀");
        Tolerances.AssertClose(binary.Variance, covariance[.., 0, 0] + covariance[.., 1, 1] - 2 * covariance[.., 0, 1], 1e-12, "Var(f₁ − f₀)");
        Tolerances.AssertClose(binary.Probability, (binary.LogOdds / (1 + Math.PI / 8 * binary.Variance).sqrt()).sigmoid(), 1e-12, "probit");
    }

    [Fact]
    public void OneOutputRefusesLabelsBeyondOneAndTheGaussianLikelihood()
    {
        var network = new LinearizedNetwork(OneOutputMlp(), ParameterSelection.All);
        Tensor inputs = randn(3, 3, dtype: ScalarType.Float64);
        var wrong = Assert.Throws<ArgumentException>(() => GaussianProcessClassification.Fit(network, inputs, tensor(new long[] { 0, 2, 1 }), new ClassificationSettings()));
        Assert.Contains("outside 0…1", wrong.Message);
        Assert.Throws<NotSupportedException>(() => GaussianProcessClassification.Fit(network, inputs, tensor(new long[] { 0, 1, 1 }),
            new ClassificationSettings(ClassificationLikelihood.Gaussian)));
    }
}
