using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class DenseRegressionTests
{
    /// <summary>Posterior means and variances against the dense float64 reference: 1e-6 relative, as the issue asks.</summary>
    private const double PosteriorTolerance = 1e-6;

    [Theory]
    [InlineData("mlp-tanh", PriorMean.Network)]
    [InlineData("mlp-tanh", PriorMean.Zero)]
    [InlineData("mlp-relu", PriorMean.Constant)]
    [InlineData("cnn-batchnorm", PriorMean.Network)]
    [InlineData("torchscript-mlp", PriorMean.Network)]
    public void TheDensePosteriorMatchesTheReference(string name, PriorMean mean)
    {
        var (test, targets, testInputs) = Data(name);
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 3);
        var problem = new RegressionProblem(network, test.Inputs, targets);
        var posterior = DenseRegression.Fit(problem, new RegressionSettings(mean, PriorVariance: 0.7, NoiseVariance: 0.05));
        var reference = new RegressionReference(test.Network, test.Inputs, targets, testInputs, 0.7, 0.05, mean);

        var prediction = posterior.Predict(testInputs);
        Tolerances.AssertClose(posterior.ParameterShift, reference.ParameterShift, PosteriorTolerance, $"{name} Δθ");
        Tolerances.AssertClose(prediction.Mean, reference.Mean, PosteriorTolerance, $"{name} predictive mean");
        Tolerances.AssertClose(prediction.LatentVariance, reference.LatentVariance, PosteriorTolerance, $"{name} latent variance");
        Tolerances.AssertClose(prediction.PredictiveVariance, reference.LatentVariance + 0.05, PosteriorTolerance, $"{name} predictive variance");
        Assert.Equal(reference.LogMarginalLikelihood, posterior.Report.LogMarginalLikelihood, 1e-8);
        if (mean == PriorMean.Constant) Assert.Equal(reference.Constant, posterior.ConstantMean, new ToleranceComparer(1e-8));
        Assert.Equal(0, posterior.Report.Jitter);
    }

    [Fact]
    public void TheMeanShiftIsTheWeightSpaceSolution()
    {
        // push-through identity: s² Jᵀ (s² J Jᵀ + σ² I)⁻¹ r = (Jᵀ J + σ²/s² I)⁻¹ Jᵀ r
        var (test, targets, testInputs) = Data("mlp-tanh");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var posterior = DenseRegression.Fit(new RegressionProblem(network, test.Inputs, targets), new RegressionSettings(PriorMean.Zero, 2.0, 0.1));
        var reference = new RegressionReference(test.Network, test.Inputs, targets, testInputs, 2.0, 0.1, PriorMean.Zero);
        Tensor j = reference.Jacobian;
        Tensor weightSpace = linalg.solve(j.t().matmul(j) + 0.05 * eye(j.shape[1], dtype: ScalarType.Float64), j.t().matmul(targets.reshape(-1)));
        Tolerances.AssertClose(posterior.ParameterShift, weightSpace, PosteriorTolerance, "Δθ against the weight-space solve");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheMarginalLikelihoodAndItsGradientMatchDirectComputationAndFiniteDifferences(bool constantMean)
    {
        manual_seed(21);
        long n = 30;
        Tensor features = randn(n, 8, dtype: ScalarType.Float64);
        Tensor kernel = features.matmul(features.t());
        Tensor y = randn(n, dtype: ScalarType.Float64) + (constantMean ? 3.0 : 0.0);
        var likelihood = new ExactMarginalLikelihood(kernel, y, constantMean ? 2 : null);
        foreach (var (s2, n2) in new[] { (0.5, 0.2), (2.0, 0.01), (0.05, 1.5) })
        {
            var (value, dPrior, dNoise, constant) = likelihood.Evaluate(s2, n2);
            Tensor mean = constantMean ? tensor(constant, dtype: ScalarType.Float64).repeat(n / 2) : zeros(n, dtype: ScalarType.Float64);
            Tensor system = s2 * kernel + n2 * eye(n, dtype: ScalarType.Float64);
            Tensor r = y - mean;
            double direct = -0.5 * r.dot(linalg.solve(system, r)).item<double>() - 0.5 * linalg.slogdet(system).Item2.item<double>() - 0.5 * n * Math.Log(2 * Math.PI);
            Assert.Equal(direct, value, 1e-9);

            const double h = 1e-6;
            double numericPrior = (likelihood.Evaluate(s2 + h, n2).Value - likelihood.Evaluate(s2 - h, n2).Value) / (2 * h);
            double numericNoise = (likelihood.Evaluate(s2, n2 + h).Value - likelihood.Evaluate(s2, n2 - h).Value) / (2 * h);
            // central differences with h = 1e-6 on values of order 10-100: truncation ~h², rounding ~1e-14/h ≈ 1e-8 relative
            Assert.True(Math.Abs(numericPrior - dPrior) <= 1e-6 * Math.Max(1, Math.Abs(dPrior)), $"∂/∂s²: {dPrior} vs {numericPrior}");
            Assert.True(Math.Abs(numericNoise - dNoise) <= 1e-6 * Math.Max(1, Math.Abs(dNoise)), $"∂/∂σ²: {dNoise} vs {numericNoise}");
        }
    }

    private static (TestCase Test, Tensor Targets, Tensor TestInputs) Data(string name)
    {
        var test = TestNetworks.Create(name);
        manual_seed(31);
        long c = ((nn.IModule<Tensor, Tensor>)test.Network).call(test.Inputs).shape[1];
        Tensor targets = randn(test.Inputs.shape[0], c, dtype: ScalarType.Float64);
        Tensor testInputs = randn_like(test.Inputs).narrow(0, 0, Math.Min(3, test.Inputs.shape[0]));
        return (test, targets, testInputs);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Abs(y));
        public int GetHashCode(double obj) => 0;
    }
}
