using Microsoft.ML.Ntk.Tests.Linearization;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>A model describes itself, fitted or loaded from a .zip: task, format, network, classes and the fit's summary.</summary>
public class ModelInfoTests
{
    [Fact]
    public void ALoadedModelTellsWhatItIsAndHowItWasFitted()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(NtkTestData.Classes(30, seed: 4));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ClassRow.Class))
            .Append(ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3)));
        var model = pipeline.Fit(train);
        string path = Path.Combine(folder.Path, "multiclass.zip");
        ml.Model.Save(model, train.Schema, path);

        var fitted = NtkModel.Describe(model);
        var loaded = NtkModel.Describe(new MLContext().Model.Load(path, out _));
        var summary = model.LastTransformer.FitSummary;
        foreach (var info in new[] { fitted, loaded })
        {
            Assert.Equal(NtkTask.Multiclass, info.Task);
            Assert.Equal(2, info.FormatVersion);
            Assert.Equal("Features", info.FeatureColumn);
            Assert.Equal(new[] { "north", "east", "west" }.OrderBy(n => n), info.ClassNames.OrderBy(n => n));
            Assert.Contains("MLP", info.Network, StringComparison.OrdinalIgnoreCase);
            Assert.NotNull(info.FitSummary);
            Assert.Equal(summary.ToString(), info.FitSummary!.ToString());
            Assert.Equal(summary.Warnings, info.FitSummary.Warnings);
        }
    }

    [Fact]
    public void AVersionOneModelIsDescribedWithoutASummary()
    {
        var info = NtkModel.Describe(new MLContext().Model.Load(TestNetworks.Fixture("regression.v1.zip"), out _));
        Assert.Equal(NtkTask.Regression, info.Task);
        Assert.Equal(1, info.FormatVersion);
        Assert.Null(info.FitSummary);
    }

    [Fact]
    public void AModelWithoutNtkIsRefused()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(NtkTestData.Regression(5, seed: 1));
        var other = ml.Transforms.NormalizeMinMax("Features").Fit(data);
        Assert.Contains("no Ntk", Assert.Throws<ArgumentException>(() => NtkModel.Describe(other)).Message);
    }
}
