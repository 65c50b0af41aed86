using Microsoft.ML.Data;
using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>Every kind of bad input meets a managed exception whose message names the problem.</summary>
public class BadInputTests : IDisposable
{
    private readonly TemporaryFolder folder = new();
    private readonly MLContext ml = new(seed: 1);

    public void Dispose() => folder.Dispose();

    private sealed class TextLabelRow
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();

        public string Label { get; set; } = "";
    }

    private sealed class WideRow
    {
        [VectorType(3)]
        public float[] Pixels { get; set; } = Array.Empty<float>();

        public float Label { get; set; }
    }

    private NtkRegressionTrainer Regression(Action<NtkRegressionTrainer.Options>? change = null)
    {
        var options = new NtkRegressionTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 1) };
        change?.Invoke(options);
        return ml.Regression.Trainers.Ntk(options);
    }

    private static string MessageOf(Exception error) => error.InnerException is null ? error.Message : error.Message + " | " + MessageOf(error.InnerException);

    /// <summary>Prediction refuses NaN and infinity as training does, naming the user's feature column and the slot; no PredictedLabel from NaN.</summary>
    [Fact]
    public void PredictionRowsWithNaNOrInfinityAreRefusedWithTheColumnAndSlot()
    {
        var rows = NtkTestData.Regression(20, 2).Select(r => new WideRow { Pixels = new[] { r.Features[0], r.Features[1], 0.5f }, Label = r.Label }).ToArray();
        var wide = NtkTestData.Mlp(folder, outputs: 1, inputs: 3);
        var model = ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options { Network = wide, FeatureColumnName = nameof(WideRow.Pixels) })
                      .Fit(ml.Data.LoadFromEnumerable(rows));
        var engine = ml.Model.CreatePredictionEngine<WideRow, RegressionScore>(model);
        Assert.True(float.IsFinite(engine.Predict(rows[0]).Score));
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var row = new WideRow { Pixels = new[] { 0.1f, bad, 0.3f } };
            string message = MessageOf(Assert.ThrowsAny<Exception>(() => engine.Predict(row)));
            Assert.Contains("feature column 'Pixels'", message);
            Assert.Contains("at slot 1", message);
        }

        var classes = NtkTestData.Classes(30, 3);
        var multiclass = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3))).Fit(ml.Data.LoadFromEnumerable(classes));
        var scored = multiclass.Transform(ml.Data.LoadFromEnumerable(new[] { new ClassRow { Features = new[] { float.NaN, 1f }, Class = "east" } }));
        Assert.Contains("at slot 0", MessageOf(Assert.ThrowsAny<Exception>(() => scored.GetColumn<uint>("PredictedLabel").ToArray())));
    }

    [Fact]
    public void AMissingColumnIsNamedWithTheColumnsThereAre()
    {
        var data = ml.Data.LoadFromEnumerable(NtkTestData.Regression(5, seed: 1));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Regression(o => o.FeatureColumnName = "Pixels").Fit(data));
        Assert.Contains("no feature column 'Pixels'", error.Message);
        Assert.Contains("'Features'", error.Message);
        var pipeline = ml.Transforms.CopyColumns("Copy", "Label").Append(Regression(o => o.LabelColumnName = "Target"));
        Assert.Contains("no label column 'Target'", Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Fit(data)).Message);
    }

    [Fact]
    public void MistypedColumnsAreNamedWithTheirTypes()
    {
        var text = ml.Data.LoadFromEnumerable(new[] { new TextLabelRow { Features = new[] { 1f, 2f }, Label = "a" } });
        var regression = Assert.Throws<ArgumentOutOfRangeException>(() => Regression().Fit(text));
        Assert.Contains("label column 'Label' is of type String", regression.Message);
        var multiclass = ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3));
        Assert.Contains("needs a key type", Assert.Throws<ArgumentOutOfRangeException>(() => multiclass.Fit(text)).Message);
        var notFloat = ml.Transforms.Conversion.ConvertType("Features", outputKind: DataKind.Double).Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(3, 1)));
        var features = Assert.Throws<ArgumentOutOfRangeException>(() => Regression().Fit(notFloat.Transform(ml.Data.LoadFromEnumerable(NtkTestData.Regression(3, 1)))));
        Assert.Contains("feature column 'Features' is of type Vector<Double, 2>", features.Message);
    }

    [Fact]
    public void AFeatureLengthThatDoesNotFitTheInputShapeOrTheNetworkIsNamed()
    {
        var wide = ml.Data.LoadFromEnumerable(new[] { new WideRow { Pixels = new[] { 1f, 2f, 3f }, Label = 1 } });
        var shape = Assert.Throws<ArgumentException>(() => Regression(o => { o.FeatureColumnName = "Pixels"; o.InputShape = new[] { 2, 2 }; }).Fit(wide));
        Assert.Contains("'Pixels' holds vectors of 3 values, but the input shape [2, 2] needs 4", shape.Message);
        var network = Assert.Throws<ArgumentException>(() => Regression(o => o.FeatureColumnName = "Pixels").Fit(wide));
        Assert.Contains("input shape [2] needs 2", network.Message);
    }

    [Fact]
    public void NonFiniteValuesAreNamedByRowAndColumn()
    {
        var rows = NtkTestData.Regression(6, seed: 1);
        rows[4].Features[1] = float.NaN;
        var features = Assert.Throws<ArgumentException>(() => Regression().Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("'Features' holds NaN at row 4, slot 1", features.Message);
        rows = NtkTestData.Regression(6, seed: 1);
        rows[2].Label = float.PositiveInfinity;
        var labels = Assert.Throws<ArgumentException>(() => Regression().Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("'Label' holds Infinity at row 2", labels.Message);
    }

    [Fact]
    public void EmptyDataAndWrongOutputCountsAreRefused()
    {
        Assert.Contains("no rows", Assert.Throws<ArgumentException>(() => Regression().Fit(ml.Data.LoadFromEnumerable(Array.Empty<RegressionRow>()))).Message);
        var twoOutputs = ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 2));
        Assert.Contains("2 outputs", Assert.Throws<ArgumentException>(() => twoOutputs.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(5, 1)))).Message);
        var classes = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 4)));
        var error = Assert.Throws<ArgumentException>(() => classes.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 4))));
        Assert.Contains("has 3 classes, but the network has 4 outputs", error.Message);
    }

    [Fact]
    public void ATorchScriptNetworkGivenTheWrongInputSizeFailsWithTheShapeInsteadOfAborting()
    {
        var network = PretrainedNetwork.FromTorchScript(Linearization.TestNetworks.Fixture("mlp_tanh.torchscript.pt"));   // 3 inputs, 2 outputs
        var trainer = ml.Regression.Trainers.Ntk(network);
        var error = Assert.Throws<ArgumentException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(5, 1))));
        Assert.Contains("[1, 2]", MessageOf(error));
    }

    [Fact]
    public void OptionsAreCheckedWhenTheTrainerIsCreated()
    {
        Assert.Contains("Network", Assert.Throws<ArgumentNullException>(() => ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options())).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Regression(o => o.InputShape = new[] { 0, 2 }));
        Assert.Throws<ArgumentException>(() => Regression(o => o.ChannelMeans = new[] { 0.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Regression(o => { o.ChannelMeans = new[] { 0.5f }; o.ChannelStandardDeviations = new[] { 0f }; }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Regression(o => o.BatchSize = 0));
        var softmax = new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), Strategy = InferenceStrategy.WeightSpace };
        Assert.Contains("dense strategy", Assert.Throws<NotSupportedException>(() => ml.MulticlassClassification.Trainers.Ntk(softmax)).Message);
        foreach (double scale in new[] { 0, -1, double.NaN, double.PositiveInfinity })
        {
            var scaled = new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), CovarianceScale = scale };
            Assert.Contains("CovarianceScale", Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Ntk(scaled)).Message);
            var binary = new NtkBinaryTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 1), CovarianceScale = scale };
            Assert.Contains("CovarianceScale", Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.Ntk(binary)).Message);
        }
        var gaussian = new NtkMulticlassTrainer.Options { Network = NtkTestData.Mlp(folder, outputs: 3), Likelihood = ClassificationLikelihood.Gaussian, CovarianceScale = 0.5 };
        Assert.Contains("Gaussian likelihood", Assert.Throws<NotSupportedException>(() => ml.MulticlassClassification.Trainers.Ntk(gaussian)).Message);
        var tolerance = Regression(o => o.Tolerance = 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => tolerance.Fit(ml.Data.LoadFromEnumerable(NtkTestData.Regression(5, 1))));
    }
}
