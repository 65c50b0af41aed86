using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

public class PosteriorSerializerTests
{
    [Theory]
    [InlineData(InferenceStrategy.Dense, false)]
    [InlineData(InferenceStrategy.FunctionSpace, false)]
    [InlineData(InferenceStrategy.WeightSpace, false)]
    [InlineData(InferenceStrategy.Dense, true)]
    public void ARegressionPosteriorPredictsTheSameAfterSavingAndLoading(InferenceStrategy strategy, bool independentOutputs)
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(81);
        Tensor targets = randn(3, 3, dtype: ScalarType.Float64), queries = randn_like(test.Inputs);
        var posterior = GaussianProcessRegression.Fit(new LinearizedNetwork(test.Network, ParameterSelection.All), test.Inputs, targets,
                                                      new RegressionSettings(PriorMean.Constant, Strategy: strategy, Probes: 4, LanczosSteps: 20,
                                                                             IndependentOutputs: independentOutputs));
        var stream = new MemoryStream();
        PosteriorSerializer.Write(stream, posterior);
        stream.Position = 0;
        var loaded = PosteriorSerializer.ReadRegression(stream, new LinearizedNetwork(test.Network, ParameterSelection.All));

        var before = posterior.Predict(queries);
        var after = loaded.Predict(queries);
        Assert.Equal(before.Mean.data<double>().ToArray(), after.Mean.data<double>().ToArray());
        Assert.Equal(before.PredictiveVariance.data<double>().ToArray(), after.PredictiveVariance.data<double>().ToArray());
        Assert.Equal(posterior.Report.Strategy, loaded.Report.Strategy);
        Assert.Equal(posterior.ConstantMean, loaded.ConstantMean);
    }

    [Theory]
    [InlineData(ClassificationLikelihood.Softmax, PredictiveApproximation.MonteCarlo, false, 1.0)]
    [InlineData(ClassificationLikelihood.Softmax, PredictiveApproximation.Probit, false, 1.0)]
    [InlineData(ClassificationLikelihood.Softmax, PredictiveApproximation.Probit, true, 1.0)]
    [InlineData(ClassificationLikelihood.Softmax, PredictiveApproximation.MonteCarlo, true, 0.1)]
    [InlineData(ClassificationLikelihood.Gaussian, PredictiveApproximation.Probit, false, 1.0)]
    public void AClassificationPosteriorPredictsTheSameAfterSavingAndLoading(ClassificationLikelihood likelihood, PredictiveApproximation predictive,
                                                                            bool independentOutputs, double covarianceScale)
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(82);
        var posterior = GaussianProcessClassification.Fit(new LinearizedNetwork(test.Network, ParameterSelection.All), test.Inputs,
            tensor(new long[] { 1, 0, 2 }), new ClassificationSettings(likelihood, PriorVariance: 1.5, Predictive: predictive, MonteCarloSamples: 200, Seed: 4,
                                                              IndependentOutputs: independentOutputs, CovarianceScale: covarianceScale));
        Assert.Equal(covarianceScale != 1, posterior.Variance is ScaledVariance);
        var stream = new MemoryStream();
        PosteriorSerializer.Write(stream, posterior);
        stream.Position = 0;
        var loaded = PosteriorSerializer.ReadClassification(stream, new LinearizedNetwork(test.Network, ParameterSelection.All));
        Tensor queries = randn_like(test.Inputs);
        Assert.Equal(posterior.Predict(queries).Probabilities.data<double>().ToArray(), loaded.Predict(queries).Probabilities.data<double>().ToArray());
    }

    /// <summary>
    /// The fit keeps the training Jacobian by output it formed for its kernel, and a posterior read from the fit's stream takes
    /// that very tensor over instead of forming it again: predictions bit for bit those of a posterior read without it (which
    /// forms its own), so the fit's Jacobian is the one a loaded model computes.
    /// </summary>
    [Fact]
    public void APosteriorReadFromAFitTakesOverItsTrainingJacobianWithTheSamePredictions()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(83);
        var posterior = GaussianProcessClassification.Fit(new LinearizedNetwork(test.Network, ParameterSelection.All), test.Inputs,
            tensor(new long[] { 1, 0, 2 }), new ClassificationSettings(PriorVariance: 1.5, IndependentOutputs: true, CovarianceScale: 0.1));
        var stream = new MemoryStream();
        PosteriorSerializer.Write(stream, posterior);
        ClassificationPosterior Read() => PosteriorSerializer.ReadClassification(new MemoryStream(stream.ToArray()), new LinearizedNetwork(test.Network, ParameterSelection.All));
        var adopting = Read();
        var own = Read();
        adopting.Variance.AdoptPrepared(posterior.Variance);

        static IndependentLaplaceVariance Inner(ClassificationPosterior p) => (IndependentLaplaceVariance)((ScaledVariance)p.Variance).Inner;
        Tensor fitted = Inner(posterior).TrainingRowsByOutput!;
        Assert.Same(fitted, Inner(adopting).TrainingRowsByOutput);
        Assert.NotSame(fitted, Inner(own).TrainingRowsByOutput);
        Tensor queries = randn_like(test.Inputs);
        double[] expected = own.Predict(queries).LatentVariance.data<double>().ToArray();
        Assert.Equal(expected, adopting.Predict(queries).LatentVariance.data<double>().ToArray());
        Assert.Equal(expected, posterior.Predict(queries).LatentVariance.data<double>().ToArray());
    }

    [Fact]
    public void DamagedForeignOrNewerStreamsAreRefusedClearly()
    {
        var test = TestNetworks.Create("mlp-tanh");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var posterior = GaussianProcessRegression.Fit(network, test.Inputs, randn(5, 2, dtype: ScalarType.Float64), new RegressionSettings());
        var stream = new MemoryStream();
        PosteriorSerializer.Write(stream, posterior);
        byte[] bytes = stream.ToArray();

        Assert.Contains("not a saved Ntk posterior", Read(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, network).Message);
        byte[] newer = (byte[])bytes.Clone();
        BitConverter.GetBytes(PosteriorSerializer.FormatVersion + 1).CopyTo(newer, 4);
        Assert.Contains($"format version {PosteriorSerializer.FormatVersion + 1}", Read(newer, network).Message);
        Assert.Contains("cut short", Read(bytes[..(bytes.Length / 2)], network).Message);
        var subset = new LinearizedNetwork(test.Network, ParameterSelection.LastLayers(1));
        Assert.Contains("adapted parameters", Read(bytes, subset).Message);
        var wrongKind = new MemoryStream(bytes);
        Assert.Throws<InvalidDataException>(() => PosteriorSerializer.ReadClassification(wrongKind, network));

        // Implausible values, had a damaged stream passed its checksum: "NTKP", version, kind, P, mean, 0 constants, then s², σ², Δθ.
        const int priorOffset = 4 + 4 + 1 + 8 + 1 + 4, shiftValues = priorOffset + 16 + 1 + 8 + 8;
        foreach (var (offset, value, message) in new[] { (priorOffset, -1.0, "prior variance is -1"), (priorOffset + 8, double.NaN, "noise variance is NaN"),
                                                         (shiftValues, double.PositiveInfinity, "parameter shift hold NaN or infinite") })
        {
            byte[] damaged = (byte[])bytes.Clone();
            BitConverter.GetBytes(value).CopyTo(damaged, offset);
            Assert.Contains(message, Read(damaged, network).Message);
        }
    }

    private static InvalidDataException Read(byte[] bytes, LinearizedNetwork network) =>
        Assert.Throws<InvalidDataException>(() => PosteriorSerializer.ReadRegression(new MemoryStream(bytes), network));
}
