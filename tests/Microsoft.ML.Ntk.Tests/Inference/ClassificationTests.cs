using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class ClassificationTests
{
    private const double PosteriorTolerance = 1e-6;

    /// <summary>A separately coded dense Newton solve of the softmax MAP with the explicit Jacobian, and its Laplace covariance.</summary>
    private sealed record DenseReference(Tensor Shift, Tensor Mean, Tensor Covariance);

    private static DenseReference Reference(nn.Module network, Tensor inputs, Tensor labels, Tensor testInputs, double s2, bool networkMean,
                                            bool independent = false)
    {
        var parameters = network.parameters().ToList<Tensor>();
        Tensor j = ReferenceJacobian.ByRows(network, inputs, parameters), jStar = ReferenceJacobian.ByRows(network, testInputs, parameters);
        if (independent) { j = BlockPerOutput(j, labels.max().item<long>() + 1); jStar = BlockPerOutput(jStar, labels.max().item<long>() + 1); }
        Tensor f0, f0Star;
        using (no_grad())
        {
            f0 = ReferenceJacobian.Call(network, inputs).to(ScalarType.Float64);
            f0Star = ReferenceJacobian.Call(network, testInputs).to(ScalarType.Float64);
        }
        if (!networkMean) { f0 = zeros_like(f0); f0Star = zeros_like(f0Star); }
        long n = f0.shape[0], c = f0.shape[1], p = j.shape[1];
        Tensor y = nn.functional.one_hot(labels, c).to(ScalarType.Float64).reshape(-1);
        Tensor shift = zeros(p, dtype: ScalarType.Float64);
        Tensor Lambda(Tensor probabilities) => block_diag(Enumerable.Range(0, (int)n).Select(i => probabilities[i].diag() - probabilities[i].outer(probabilities[i])).ToArray());
        for (int iteration = 0; iteration < 100; iteration++)
        {
            Tensor probabilities = (f0 + j.matmul(shift).reshape(n, c)).softmax(1);
            Tensor gradient = j.t().matmul(probabilities.reshape(-1) - y) + shift / s2;
            if (gradient.norm().item<double>() < 1e-13) break;
            Tensor hessian = j.t().matmul(Lambda(probabilities)).matmul(j) + eye(p, dtype: ScalarType.Float64) / s2;
            shift = shift - linalg.solve(hessian, gradient);   // full Newton steps: fine from Δθ = 0 on these small problems
        }
        Tensor final = (f0 + j.matmul(shift).reshape(n, c)).softmax(1);
        Tensor covarianceWeights = linalg.inv(j.t().matmul(Lambda(final)).matmul(j) + eye(p, dtype: ScalarType.Float64) / s2);
        Tensor covariance = jStar.matmul(covarianceWeights).matmul(jStar.t());
        long b = testInputs.shape[0];
        Tensor blocks = covariance.reshape(b, c, b, c).diagonal(0, 0, 2).permute(2, 0, 1);
        return new DenseReference(shift, f0Star + jStar.matmul(shift).reshape(b, c), blocks);
    }

    /// <summary>Independent outputs as one parameter copy per output: row (n, c) of J moves to column block c.</summary>
    private static Tensor BlockPerOutput(Tensor j, long outputs)
    {
        long p = j.shape[1];
        Tensor expanded = zeros(j.shape[0], outputs * p, dtype: j.dtype);
        for (long row = 0; row < j.shape[0]; row++) expanded[row, TensorIndex.Slice(row % outputs * p, (row % outputs + 1) * p)] = j[row];
        return expanded;
    }

    [Theory]
    [InlineData("cnn-batchnorm", true, false)]
    [InlineData("resnet", false, false)]
    [InlineData("mlp-tanh", true, false)]
    [InlineData("cnn-batchnorm", true, true)]
    [InlineData("mlp-tanh", false, true)]
    public void TheSoftmaxMapAndLaplaceCovarianceMatchADenseNewtonSolve(string name, bool networkMean, bool independent)
    {
        var test = TestNetworks.Create(name);
        manual_seed(71);
        long c = ((nn.IModule<Tensor, Tensor>)test.Network).call(test.Inputs).shape[1];
        Tensor labels = independent && test.Inputs.shape[0] == 3 ? tensor(new long[] { 2, 0, 1 }) : randint(0, c, test.Inputs.shape[0], dtype: ScalarType.Int64);
        Tensor testInputs = randn_like(test.Inputs).narrow(0, 0, 2);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        var settings = new ClassificationSettings(Mean: networkMean ? PriorMean.Network : PriorMean.Zero, PriorVariance: 0.8,
                                                  Predictive: PredictiveApproximation.MonteCarlo, MonteCarloSamples: 4000,
                                                  Solver: new SolverSettings(Tolerance: 1e-10, MaxIterations: 2000), IndependentOutputs: independent,
                                                  CovarianceScale: 1);                         // the Laplace covariance itself is compared
        var posterior = GaussianProcessClassification.Fit(network, test.Inputs, labels, settings);
        var reference = Reference(test.Network, test.Inputs, labels, testInputs, 0.8, networkMean, independent);
        Assert.True(posterior.Report.SolverConverged, posterior.Report.ToString());
        Tolerances.AssertClose(posterior.ParameterShift.reshape(-1), reference.Shift, PosteriorTolerance, $"{name} MAP Δθ");

        var prediction = posterior.Predict(testInputs);
        Tolerances.AssertClose(prediction.LatentMean, reference.Mean, PosteriorTolerance, $"{name} latent mean");
        Tolerances.AssertClose(prediction.LatentVariance, reference.Covariance.diagonal(0, 1, 2), PosteriorTolerance, $"{name} latent variance");
        using var prepared = new TestInputs(network, testInputs);
        Tensor covariance = posterior.Variance.Covariance(prepared);
        Tolerances.AssertClose(covariance, reference.Covariance, PosteriorTolerance, $"{name} latent C×C covariance");

        // Monte Carlo with 4000 draws against 200,000 reference draws from the reference posterior: each probability
        // has a standard deviation of at most 0.5/sqrt(4000) ≈ 0.008, so 0.04 is five of them.
        Tensor draws = reference.Mean.unsqueeze(0) + linalg.cholesky(reference.Covariance + 1e-12 * eye(c, dtype: ScalarType.Float64))
            .unsqueeze(0).matmul(randn(200_000, 2, c, 1, dtype: ScalarType.Float64)).squeeze(3);
        Tensor expected = draws.softmax(2).mean(new long[] { 0 });
        Assert.True((prediction.Probabilities - expected).abs().max().item<double>() < 0.04);
        Tolerances.AssertClose(prediction.Probabilities.sum(1), ones(2, dtype: ScalarType.Float64), 1e-12, "probabilities sum to one");
    }

    /// <summary>
    /// Not told, a softmax fit takes the full kernel up to <see cref="InferenceSettings.FullKernelLimit"/> latent values and
    /// independent outputs beyond: 200 and 201 inputs of ten classes, each against the fit told the same coupling (the same
    /// computation, so the same probabilities to the bit), the report saying which it used.
    /// </summary>
    [Theory]
    [InlineData(200, false)]
    [InlineData(201, true)]
    public void AnUntoldSoftmaxFitChoosesTheCouplingByItsSize(int count, bool independent)
    {
        Assert.Equal(InferenceSettings.FullKernelLimit, 200 * 10);
        manual_seed(5);
        var module = nn.Sequential(("fc1", nn.Linear(2, 6)), ("tanh", nn.Tanh()), ("fc2", nn.Linear(6, 10))).to(ScalarType.Float64);
        module.eval();
        var network = new LinearizedNetwork(module, ParameterSelection.All, TangentMode.Auto, batchSize: 256);
        Tensor inputs = randn(count, 2, dtype: ScalarType.Float64), labels = randint(0, 10, count, dtype: ScalarType.Int64);
        Tensor testInputs = randn(5, 2, dtype: ScalarType.Float64);
        ClassificationSettings Told(bool? coupling) => new(PriorVariance: 0.5, IndependentOutputs: coupling, CovarianceScale: 1);

        var untold = GaussianProcessClassification.Fit(network, inputs, labels, Told(null));
        var told = GaussianProcessClassification.Fit(network, inputs, labels, Told(independent));
        Assert.Equal(independent, untold.Report.IndependentOutputs);
        Assert.Equal(independent, told.Report.IndependentOutputs);
        Assert.Equal(independent, untold.Variance is IndependentLaplaceVariance);
        Tolerances.AssertClose(untold.Predict(testInputs).Probabilities, told.Predict(testInputs).Probabilities, 0, "probabilities");
    }

    [Fact]
    public void TheProbitApproximationScalesTheMeanByTheVariance()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        Tensor labels = tensor(new long[] { 0, 2, 1 });
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var posterior = GaussianProcessClassification.Fit(network, test.Inputs, labels, new ClassificationSettings(PriorVariance: 2.0));
        var prediction = posterior.Predict(test.Inputs);
        Tensor expected = (prediction.LatentMean / (1 + Math.PI / 8 * prediction.LatentVariance).sqrt()).softmax(1);
        Tolerances.AssertClose(prediction.Probabilities, expected, 1e-12, "probit probabilities");
        Assert.True(prediction.LatentVariance.min().item<double>() > 0);
    }

    [Fact]
    public void ThePriorVarianceChosenByTheEvidenceIsALocalMaximum()
    {
        var test = TestNetworks.Create("mlp-tanh");
        manual_seed(72);
        Tensor inputs = randn(40, 3, dtype: ScalarType.Float64);
        Tensor labels = (inputs[.., 0] + inputs[.., 1] > 0).to(ScalarType.Int64);   // a signal the prior mean does not have
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var chosen = GaussianProcessClassification.Fit(network, inputs, labels, new ClassificationSettings());
        Assert.Empty(chosen.Report.Warnings);
        double s2 = chosen.PriorVariance, evidence = chosen.Report.LogMarginalLikelihood;
        foreach (double factor in new[] { 1.3, 1 / 1.3 })
        {
            var other = GaussianProcessClassification.Fit(network, inputs, labels, new ClassificationSettings(PriorVariance: s2 * factor));
            Assert.True(other.Report.LogMarginalLikelihood <= evidence + 1e-9, $"evidence at s² × {factor:F2}: {other.Report.LogMarginalLikelihood} > {evidence}");
        }
        // Random labels on five points: the evidence prefers the prior mean alone, and the fit says so.
        var flat = GaussianProcessClassification.Fit(network, test.Inputs, tensor(new long[] { 0, 1, 1, 0, 1 }), new ClassificationSettings());
        Assert.Contains(flat.Report.Warnings, w => w.Contains("edge of the searched range"));
    }

    [Fact]
    public void TheGaussianLikelihoodRegressesOnOneHotTargets()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        Tensor labels = tensor(new long[] { 2, 0, 1 });
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var posterior = GaussianProcessClassification.Fit(network, test.Inputs, labels,
            new ClassificationSettings(ClassificationLikelihood.Gaussian, PriorVariance: 1.0, NoiseVariance: 0.1));
        var regression = GaussianProcessRegression.Fit(network, test.Inputs, nn.functional.one_hot(labels, 3).to(ScalarType.Float64),
                                                       new RegressionSettings(PriorVariance: 1.0, NoiseVariance: 0.1));
        var prediction = posterior.Predict(test.Inputs);
        var expected = regression.Predict(test.Inputs);
        Tolerances.AssertClose(prediction.LatentMean, expected.Mean, 1e-12, "one-hot regression mean");
        Tolerances.AssertClose(prediction.Probabilities, expected.Mean.softmax(1), 1e-12, "softmax of the mean");
    }

    [Fact]
    public void BadLabelsAreRefusedWithTheRowNamed()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var settings = new ClassificationSettings(PriorVariance: 1.0);
        var outOfRange = Assert.Throws<ArgumentException>(() => GaussianProcessClassification.Fit(network, test.Inputs, tensor(new long[] { 0, 3, 1 }), settings));
        Assert.Contains("row 1", outOfRange.Message);
        Assert.Contains("3 outputs", outOfRange.Message);
        Assert.Throws<ArgumentException>(() => GaussianProcessClassification.Fit(network, test.Inputs, tensor(new long[] { 0, 1 }), settings));
        Assert.Throws<ArgumentException>(() => GaussianProcessClassification.Fit(network, test.Inputs, tensor(new float[] { 0, 1, 2 }), settings));
        Assert.Throws<NotSupportedException>(() => GaussianProcessClassification.Fit(network, test.Inputs, tensor(new long[] { 0, 1, 2 }),
            new ClassificationSettings(Mean: PriorMean.Constant)));
    }
}
