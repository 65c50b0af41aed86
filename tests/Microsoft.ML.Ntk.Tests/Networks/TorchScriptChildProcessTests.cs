using System.Reflection;
using Microsoft.ML.Ntk.MLNet;
using Microsoft.ML.Ntk.Tests.Linearization;
using Microsoft.ML.Ntk.Tests.MLNet;

namespace Microsoft.ML.Ntk.Tests.Networks;

/// <summary>
/// Damaged TorchScript that libtorch's loader cannot survive (code calling an operator libtorch does not have), and the
/// damage it reports catchably, fed through <see cref="PretrainedNetwork.FromTorchScript"/> and through a saved model
/// whose checksums are intact, each in a child process (tests/TorchScriptDamageCheck): the child must meet a managed
/// exception and exit with 0, where it used to end with SIGABRT (134). The library's own probe runs a grandchild.
/// </summary>
public class TorchScriptChildProcessTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    public static TheoryData<string> Damage() => new() { "unknown operator", "unknown method", "syntax", "constants", "truncated pickle" };

    private string Damaged(string kind) => DamagedTorchScript.Write(Path.Combine(folder.Path, kind.Replace(' ', '-') + ".pt"), (name, data) => (kind, name) switch
    {
        ("unknown operator", var n) when n.EndsWith("activation.py") => DamagedTorchScript.Replace(data, "torch.tanh(", "torch.tanhx("),
        ("unknown method", var n) when n.EndsWith("activation.py") => DamagedTorchScript.Replace(data, "torch.tanh(input)", "input.no_such_method()"),
        ("syntax", var n) when n.EndsWith("activation.py") => DamagedTorchScript.Replace(data, "def forward", "def forwa rd"),
        ("constants", var n) when n.EndsWith("constants.pkl") => "\u0080\u0002garbage"u8.ToArray(),
        ("truncated pickle", var n) when n.EndsWith("data.pkl") => data[..(data.Length / 2)],
        _ => data,
    });

    private static Task<string> RunChild(params string[] arguments) => ChildProcess.Run("TorchScriptDamageCheck.dll", arguments);

    [Theory, MemberData(nameof(Damage))]
    public async Task ADamagedTorchScriptFileGivesAManagedError(string kind)
    {
        string path = Damaged(kind);
        string output = await RunChild("network", path);
        Assert.Contains("managed InvalidDataException", output);
        Assert.Contains(Path.GetFileName(path), output);
        if (kind == "unknown operator") Assert.Contains("Unknown builtin op: aten::tanhx", output);    // libtorch's own words
    }

    [Fact]
    public async Task TheIntactFileLoadsInTheChildToo() => Assert.Contains("loaded", await RunChild("network", TestNetworks.Fixture("mlp_tanh.torchscript.pt")));

    [Theory]
    [InlineData("unknown operator")]
    [InlineData("syntax")]
    public async Task ASavedModelHoldingDamagedTorchScriptGivesAManagedErrorAtItsFirstPrediction(string kind)
    {
        string intact = Path.Combine(folder.Path, "intact.zip"), damaged = Path.Combine(folder.Path, "damaged.zip");
        long inputs = SaveModels(intact, damaged, File.ReadAllBytes(Damaged(kind)));
        Assert.Contains("loaded", await RunChild("model", intact, inputs.ToString()));
        string output = await RunChild("model", damaged, inputs.ToString());
        Assert.Contains("managed InvalidDataException", output);
        Assert.Contains("The TorchScript network saved in this model", output);
    }

    /// <summary>
    /// Fits a binary classifier on the intact fixture and saves it; saves it again with the network part replaced by the damaged
    /// archive, its checksum recomputed (what a buggy writer could produce). Returns the network's input width.
    /// </summary>
    private long SaveModels(string intactPath, string damagedPath, byte[] damagedArchive)
    {
        var ml = new MLContext(seed: 1);
        var network = PretrainedNetwork.FromTorchScript(TestNetworks.Fixture("mlp_tanh.torchscript.pt"));
        long width = ((TorchSharp.torch.nn.Module)network.Module).parameters().First().shape[1];
        var random = new Random(3);
        var rows = Enumerable.Range(0, 20).Select(_ => new WideRow
        {
            Features = Enumerable.Range(0, (int)width).Select(_ => (float)random.NextDouble()).ToArray(), Label = random.NextDouble() < 0.5,
        }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows, SchemaFor(width));
        var model = ml.BinaryClassification.Trainers.Ntk(network).Fit(data);     // the fixture has two outputs
        ml.Model.Save(model, data.Schema, intactPath);

        var damagedNetwork = WithPayload(network, damagedArchive);
        string state = ReplaceNetworkPart(model.State, damagedNetwork);
        ml.Model.Save(PredictionChain.Binary(data, "Features", state), data.Schema, damagedPath);
        return width;
    }

    private sealed class WideRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public bool Label { get; set; }
    }

    private static Microsoft.ML.Data.SchemaDefinition SchemaFor(long width)
    {
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(WideRow));
        schema[nameof(WideRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, (int)width);
        return schema;
    }

    /// <summary>The same network object with another TorchScript payload (its private constructor; nothing is loaded).</summary>
    private static PretrainedNetwork WithPayload(PretrainedNetwork network, byte[] payload)
    {
        var constructor = typeof(PretrainedNetwork).GetConstructors(BindingFlags.NonPublic | BindingFlags.Instance).Single();
        var sourceType = constructor.GetParameters()[2].ParameterType;
        return (PretrainedNetwork)constructor.Invoke(new[] { network.Module, network.Description, Enum.Parse(sourceType, "TorchScript"), payload });
    }

    /// <summary>The state with its network part rewritten (fresh checksum), the other parts as they were.</summary>
    private static string ReplaceNetworkPart(string state, PretrainedNetwork network)
    {
        using var input = new BinaryReader(new MemoryStream(Convert.FromBase64String(state)));
        var output = new MemoryStream();
        using (var writer = new BinaryWriter(output, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(input.ReadBytes(4));                                   // "NTKM"
            writer.Write(input.ReadInt32());                                    // version
            foreach (string name in new[] { ModelParts.Settings, ModelParts.Network, ModelParts.Posterior, ModelParts.Summary })
            {
                byte[] bytes = ModelParts.Read(input, name).ToArray();
                ModelParts.Write(writer, name, part =>
                {
                    if (name != ModelParts.Network) part.Write(bytes);
                    else
                    {
                        using var partWriter = new BinaryWriter(part, System.Text.Encoding.UTF8, leaveOpen: true);
                        network.Write(partWriter);
                    }
                });
            }
        }
        return Convert.ToBase64String(output.ToArray());
    }
}
