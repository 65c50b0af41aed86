using System.Globalization;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Networks;

public class TorchScriptFixtureTests
{
    [Fact]
    public void TheFixtureGivesTheOutputsPyTorchPrinted()
    {
        var rows = File.ReadLines(TestNetworks.Fixture("mlp_tanh.expected.txt"))
            .Where(line => !line.StartsWith('#'))
            .Select(line => line.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToArray();
        TorchSharpLoader.EnsureLoaded();
        var network = jit.load<Tensor, Tensor>(TestNetworks.Fixture("mlp_tanh.torchscript.pt"));
        network.eval();
        Tensor inputs = tensor(rows.SelectMany(r => r.Take(3)).ToArray(), dtype: ScalarType.Float64).reshape(rows.Length, 3);
        Tensor expected = tensor(rows.SelectMany(r => r.Skip(3)).ToArray(), dtype: ScalarType.Float64).reshape(rows.Length, 2);
        using var noGrad = no_grad();
        Tolerances.AssertClose(network.call(inputs), expected, 1e-14, "TorchScript outputs vs PyTorch");
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias" },
                     network.named_parameters().Select(p => p.name));
    }
}
