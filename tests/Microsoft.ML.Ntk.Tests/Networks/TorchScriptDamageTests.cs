using Microsoft.ML.Ntk.Tests.Linearization;

namespace Microsoft.ML.Ntk.Tests.Networks;

/// <summary>
/// Damaged TorchScript archives (the zip itself intact) meet a managed error, none the process's end. The cases that libtorch
/// reports catchably (altered syntax, constants, truncated pickle) and those checked before libtorch parses (a missing code
/// file, a missing data.pkl) are tested here in process; an archive whose code calls an operator that does not exist still
/// ends the process inside libtorch (TorchSharp does not catch torch::jit::ErrorReport), which no test can run in process.
/// </summary>
public class TorchScriptDamageTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    private string Damaged(string name, Func<string, byte[], byte[]?> change) => DamagedTorchScript.Write(Path.Combine(folder.Path, name + ".pt"), change);

    private static byte[] Replace(byte[] data, string from, string to) => DamagedTorchScript.Replace(data, from, to);

    public static TheoryData<string> Cases() => new() { "syntax", "constants", "truncated pickle", "missing code file", "missing data.pkl" };

    [Theory, MemberData(nameof(Cases))]
    public void DamagedArchivesAreRefusedWithAManagedError(string kind)
    {
        string path = kind switch
        {
            "syntax" => Damaged("syntax", (n, d) => n.EndsWith("activation.py") ? Replace(d, "def forward", "def forwa rd") : d),
            "constants" => Damaged("constants", (n, d) => n.EndsWith("constants.pkl") ? "\u0080\u0002garbage"u8.ToArray() : d),
            "truncated pickle" => Damaged("truncated", (n, d) => n.EndsWith("data.pkl") ? d[..(d.Length / 2)] : d),
            "missing code file" => Damaged("missing", (n, d) => n.EndsWith("modules/linear.py") ? null : d),
            _ => Damaged("nodata", (n, d) => n.EndsWith("data.pkl") ? null : d),
        };
        var error = Assert.ThrowsAny<Exception>(() => PretrainedNetwork.FromTorchScript(path));
        Assert.True(error is InvalidDataException, $"{kind}: {error.GetType().Name}: {error.Message}");
        Assert.Contains(Path.GetFileName(path), error.Message);
    }

    [Fact]
    public void TheIntactFixturePassesTheCheck() => Assert.NotNull(PretrainedNetwork.FromTorchScript(TestNetworks.Fixture("mlp_tanh.torchscript.pt")));
}
