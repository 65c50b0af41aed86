using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>The smaller gaps a probe of bad inputs found, each met now by a clear managed error.</summary>
public class ProbeGapTests : IDisposable
{
    private readonly TemporaryFolder folder = new();
    private readonly MLContext ml = new(seed: 1);

    public void Dispose() => folder.Dispose();

    private static string MessageOf(Exception error) => error.InnerException is null ? error.Message : error.Message + " | " + MessageOf(error.InnerException);

    [Fact]
    public void UndefinedEnumValuesAreRefusedNamingTheOption()
    {
        var network = NtkTestData.Mlp(folder, outputs: 1);
        Assert.Equal("Strategy", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options { Network = network, Strategy = (InferenceStrategy)77 })).ParamName);
        Assert.Equal("Mean", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options { Network = network, Mean = (PriorMean)77 })).ParamName);
        Assert.Equal("TangentMode", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options { Network = network, TangentMode = (TangentMode)9 })).ParamName);
        Assert.Equal("Likelihood", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = network, Likelihood = (ClassificationLikelihood)5 })).ParamName);
        Assert.Equal("PredictiveApproximation", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.Ntk(new NtkMulticlassTrainer.Options { Network = network, PredictiveApproximation = (PredictiveApproximation)5 })).ParamName);
    }

    private sealed class ByteKeyRow
    {
        [VectorType(2)] public float[] Features { get; set; } = Array.Empty<float>();
        [KeyType(3)] public byte Label { get; set; }
    }

    [Fact]
    public void AByteKeyedLabelIsToldWhatKeyTypeIsRead()
    {
        var rows = NtkTestData.Classes(12, 1).Select((r, i) => new ByteKeyRow { Features = r.Features, Label = (byte)(i % 3 + 1) }).ToArray();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 3)).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("key of Byte", error.Message);
        Assert.Contains("UInt32", error.Message);
    }

    [Fact]
    public void LabelsBeyondTheVarianceRangeAreRefused()
    {
        var rows = NtkTestData.Regression(10, 1);
        rows[3].Label = 1e30f;
        var error = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.Ntk(NtkTestData.Mlp(folder, outputs: 1)).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("row 3", error.Message);
        Assert.Contains("Rescale", error.Message);
    }

    [Fact]
    public void ADamagedStateDictNamesTheFile()
    {
        string path = Path.Combine(folder.Path, "damaged.pt");
        byte[] bytes = File.ReadAllBytes(TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        using (var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read))
        using (var output = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var entry in zip.Entries)
            {
                using var source = entry.Open();
                var copy = new MemoryStream();
                source.CopyTo(copy);
                byte[] data = copy.ToArray();
                if (entry.Name == "data.pkl") data = data[..(data.Length / 3)].Concat(new byte[] { 0x2e }).ToArray();   // cut, then STOP
                using var target = output.CreateEntry(entry.FullName).Open();
                target.Write(data);
            }
        var architecture = NetworkArchitecture.Mlp(4, new[] { 6 }, 3, Activation.ReLU);
        var error = Assert.Throws<InvalidDataException>(() => PretrainedNetwork.FromArchitecture(architecture, path));
        Assert.Contains("damaged.pt", error.Message);
    }

    [Fact]
    public void WeightsWithNaNAreRefusedNamingTheEntry()
    {
        var architecture = NetworkArchitecture.Mlp(2, new[] { 4 }, 1, Activation.Tanh);
        var module = architecture.Build();
        using (no_grad()) ((TorchSharp.Modules.Linear)((TorchSharp.Modules.Sequential)module).children().First()).weight![1, 0] = float.NaN;
        string path = Path.Combine(folder.Path, "nan.bin");
        module.save(path);
        var error = Assert.Throws<InvalidDataException>(() => PretrainedNetwork.FromArchitecture(architecture, path));
        Assert.Contains("'0.weight' holds NaN", error.Message);
    }

    [Fact]
    public void TorchSharpWeightsOfAnotherArchitectureNameTheEntryAndBothShapes()
    {
        var saved = NetworkArchitecture.Mlp(2, new[] { 16 }, 1, Activation.Tanh).Build();
        string path = Path.Combine(folder.Path, "other.bin");
        saved.save(path);
        var error = Assert.Throws<InvalidDataException>(() => PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(2, new[] { 8 }, 1, Activation.Tanh), path));
        Assert.Contains("'0.weight' has shape [16, 2]", error.Message);
        Assert.Contains("expects [8, 2]", error.Message);
        var deeper = Assert.Throws<InvalidDataException>(() => PretrainedNetwork.FromArchitecture(NetworkArchitecture.Mlp(2, new[] { 16, 16 }, 1, Activation.Tanh), path));
        Assert.Contains("'2.weight' has shape [1, 16] but the architecture expects [16, 16]", deeper.Message);
    }
}
