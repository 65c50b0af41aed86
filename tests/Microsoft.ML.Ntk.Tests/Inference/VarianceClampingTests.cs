using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>Latent variances below zero (rounding) are clamped to zero and counted, never passed on.</summary>
public class VarianceClampingTests
{
    private sealed class Negative : IPosteriorVariance
    {
        public Tensor Latent(TestInputs inputs)
        {
            Tensor values = ones(inputs.Count, 2, dtype: ScalarType.Float64);
            values[0, 1] = -1e-9;
            return values;
        }

        public Tensor Covariance(TestInputs inputs) => diag_embed(Latent(inputs));

        public long Bytes => 0;

        public byte SavedKind => 0;

        public void Write(BinaryWriter writer) => throw new NotSupportedException("a test double is not saved");
    }

    [Fact]
    public void NegativeLatentVariancesAreClampedAndCounted()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var report = new FitReport(InferenceStrategy.Dense, 1, 0.1, Array.Empty<double>(), 0, 0, true, 0, 0, true, 0, TimeSpan.Zero, Array.Empty<string>());
        Tensor shift = zeros(network.Parameters.Count, dtype: ScalarType.Float64);

        var regression = new RegressionPosterior(network, PriorMean.Network, Array.Empty<double>(), 1, 0.1, shift, new Negative(), report);
        var prediction = regression.Predict(test.Inputs);
        Assert.Equal(1, prediction.ClampedVariances);
        Assert.Equal(0.0, prediction.LatentVariance[0, 1].item<double>());
        Assert.Equal(0.1, prediction.PredictiveVariance[0, 1].item<double>(), 1e-15);

        var classification = new ClassificationPosterior(network, PriorMean.Network, 1, shift, new Negative(), new ClassificationSettings(), report);
        var probabilities = classification.Predict(test.Inputs);
        Assert.Equal(1, probabilities.ClampedVariances);
        Assert.Equal(0.0, probabilities.LatentVariance.min().item<double>());
    }
}
