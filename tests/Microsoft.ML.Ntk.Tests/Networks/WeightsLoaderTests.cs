using System.Globalization;
using Microsoft.ML.Ntk.Networks;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Networks;

public class WeightsLoaderTests
{
    private static nn.Module<Tensor, Tensor> Mlp(long hidden = 6)
    {
        TorchSharpLoader.EnsureLoaded();
        var mlp = Architectures.Mlp(4, new long[] { hidden }, 3, () => nn.ReLU());
        mlp.eval();
        return mlp;
    }

    /// <summary>The state_dict PyTorch wrote loads under PyTorch's Sequential numbering and gives the outputs PyTorch printed.</summary>
    [Fact]
    public void APyTorchStateDictLoadsAndGivesPyTorchsOutputs()
    {
        string path = TestNetworks.Fixture("mlp_relu.state_dict.pt");
        Assert.Equal(WeightsFormat.PyTorchStateDict, WeightsFormats.Detect(path));
        var mlp = Mlp();
        WeightsLoader.Load(mlp, path);
        var rows = File.ReadLines(TestNetworks.Fixture("mlp_relu.expected.txt")).Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Tensor inputs = tensor(rows.SelectMany(r => r.Take(4)).ToArray()).reshape(rows.Length, 4);
        Tensor expected = tensor(rows.SelectMany(r => r.Skip(4)).ToArray()).reshape(rows.Length, 3);
        using var noGrad = no_grad();
        Tolerances.AssertClose(mlp.call(inputs), expected, 1e-6, "outputs after loading PyTorch's state_dict");
    }

    [Fact]
    public void SafetensorsAndTorchSharpFilesRoundTrip()
    {
        var source = Mlp();
        WeightsLoader.Load(source, TestNetworks.Fixture("mlp_relu.state_dict.pt"));
        using var folder = new TemporaryFolder();
        string safetensors = Path.Combine(folder.Path, "weights.bin"), torchSharp = Path.Combine(folder.Path, "weights.dat");
        Safetensors.SaveStateDict(safetensors, source.state_dict());
        source.save(torchSharp);
        Assert.Equal(WeightsFormat.Safetensors, WeightsFormats.Detect(safetensors));
        Assert.Equal(WeightsFormat.TorchSharp, WeightsFormats.Detect(torchSharp));

        Tensor x = randn(5, 4);
        using var noGrad = no_grad();
        foreach (string file in new[] { safetensors, torchSharp })
        {
            var target = Mlp();
            WeightsLoader.Load(target, file);
            Assert.Equal(source.call(x).data<float>().ToArray(), target.call(x).data<float>().ToArray());
        }
    }

    [Fact]
    public void AMismatchNamesTheFirstKeyAndBothShapes()
    {
        var wider = Mlp(hidden: 7);
        var error = Assert.Throws<InvalidDataException>(() => WeightsLoader.Load(wider, TestNetworks.Fixture("mlp_relu.state_dict.pt")));
        Assert.Contains("'0.weight'", error.Message);
        Assert.Contains("[6, 4]", error.Message);
        Assert.Contains("[7, 4]", error.Message);
        // nothing is half-loaded: a failed load leaves every weight as it was
        var untouched = Mlp(hidden: 7);
        var before = untouched.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        Assert.Throws<InvalidDataException>(() => WeightsLoader.Load(untouched, TestNetworks.Fixture("mlp_relu.state_dict.pt")));
        Assert.All(untouched.state_dict(), p => Assert.Equal(before[p.Key].data<float>().ToArray(), p.Value.data<float>().ToArray()));
    }

    [Fact]
    public void TorchScriptGarbageAndMissingFilesAreRefusedClearly()
    {
        var mlp = Mlp();
        Assert.Contains("TorchScript", Assert.Throws<InvalidDataException>(() => WeightsLoader.Load(mlp, TestNetworks.Fixture("mlp_tanh.torchscript.pt"))).Message);
        using var folder = new TemporaryFolder();
        string garbage = Path.Combine(folder.Path, "notes.txt");
        File.WriteAllText(garbage, "these are not weights at all, just some text");
        Assert.Contains(garbage, Assert.Throws<InvalidDataException>(() => WeightsLoader.Load(mlp, garbage)).Message);
        Assert.Throws<FileNotFoundException>(() => WeightsLoader.Load(mlp, Path.Combine(folder.Path, "absent.pt")));
    }
}
