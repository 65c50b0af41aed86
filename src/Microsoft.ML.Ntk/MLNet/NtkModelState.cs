using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;


/// <summary>
/// Everything prediction needs, as one versioned byte stream stored as base64 text inside the ML.NET model: "NTKM", the
/// format version, the task, the network (how to rebuild it), the adapted-parameter selection, the tangent mode and batch
/// size, the input layout, the class names (multiclass, in key order) and the network output of each, the device of the fit, and the posterior
/// (<see cref="PosteriorSerializer"/>). Version 2 keeps them in three named parts (settings, network, posterior), each with
/// its length and SHA-256 checksum, verified before anything in it is read (<see cref="ModelParts"/>), and a fourth, the fit
/// summary (states written before it was added lack it: their summary reads as unknown); version 1 (one
/// stream, no checksums, no device) is still read. A model fitted on a CUDA device predicts on that device where TorchSharp
/// has it, on the CPU elsewhere (the same numbers up to rounding); version 1 states predict on the CPU.
/// </summary>
internal static class NtkModelState
{
    public const int FormatVersion = 2;
    private static readonly byte[] Magic = "NTKM"u8.ToArray();

    public sealed record Contents(NtkTask Task, PretrainedNetwork Network, ParameterSelection Selection, TangentMode Mode, int BatchSize,
                                  InputLayout Layout, string[] ClassNames, Device Device, string FeatureColumn, int[] OutputOfKey);

    /// <summary>The network's float64 copy on the device, linearized as the options say: training and prediction build it alike.</summary>
    public static LinearizedNetwork Linearize(nn.Module copy, ParameterSelection selection, TangentMode mode, int batchSize, Device device)
    {
        copy.to(ScalarType.Float64);
        copy.to(device);
        return new LinearizedNetwork(copy, selection, mode, batchSize);
    }

    public static string Encode(Contents contents, Action<Stream> writePosterior, NtkFitSummary summary)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            ModelParts.Write(writer, ModelParts.Settings, part => WriteSettings(part, contents));
            ModelParts.Write(writer, ModelParts.Network, part =>
            {
                using var partWriter = new BinaryWriter(part, System.Text.Encoding.UTF8, leaveOpen: true);
                contents.Network.Write(partWriter);
            });
            ModelParts.Write(writer, ModelParts.Posterior, writePosterior);
            ModelParts.Write(writer, ModelParts.Summary, part => SummaryPart.Write(part, summary));
        }
        return Convert.ToBase64String(stream.GetBuffer(), 0, (int)stream.Length);
    }

    private static void WriteSettings(Stream part, Contents contents)
    {
        using var writer = new BinaryWriter(part, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write((byte)contents.Task);
        contents.Selection.Write(writer);
        writer.Write((byte)contents.Mode);
        writer.Write(contents.BatchSize);
        contents.Layout.Write(writer);
        writer.Write(contents.ClassNames.Length);
        foreach (string name in contents.ClassNames) writer.Write(name);
        writer.Write((byte)contents.Device.type);
        writer.Write(contents.Device.index);
        writer.Write(contents.FeatureColumn);
        writer.Write(contents.OutputOfKey.Length);                              // added within version 2: read when present
        foreach (int output in contents.OutputOfKey) writer.Write(output);
    }

    /// <summary>The state's bytes from its base64 text, refused when the text is not base64.</summary>
    private static MemoryStream Open(ReadOnlySpan<char> text)
    {
        byte[] bytes = new byte[text.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64Chars(text, bytes, out int length))
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is damaged (it is not valid base64 text).");
        return new MemoryStream(bytes, 0, length, writable: false);
    }

    public static NtkPredictor Decode(ReadOnlySpan<char> text)
    {
        using var stream = Open(text);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            int version = ReadHeader(reader);
            var (contents, posterior) = version >= 2 ? ReadParts(reader) : (ReadVersionOne(reader), stream);
            var network = Linearize(contents.Network.Module, contents.Selection, contents.Mode, contents.BatchSize, PredictionDevice(contents.Device));
            return contents.Task == NtkTask.Regression
                ? new NtkPredictor(contents.Layout, contents.FeatureColumn, PosteriorSerializer.ReadRegression(posterior, network))
                : new NtkPredictor(contents.Layout, contents.FeatureColumn, PosteriorSerializer.ReadClassification(posterior, network), contents.ClassNames,
                                   contents.Task, contents.OutputOfKey);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is cut short.", ex);
        }
    }

    /// <summary>What a saved state is, read from its settings, network description and summary parts (nothing is rebuilt).</summary>
    public static NtkModelInfo Describe(ReadOnlySpan<char> text)
    {
        using var stream = Open(text);
        try
        {
            return Describe(stream);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is cut short.", ex);
        }
    }

    private static NtkModelInfo Describe(MemoryStream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        int version = ReadHeader(reader);
        if (version < 2)
        {
            var old = ReadVersionOne(reader);
            return new NtkModelInfo(old.Task, version, old.Network.Description, old.FeatureColumn, old.ClassNames, FitSummary: null);
        }
        var settings = ModelParts.Read(reader, ModelParts.Settings);
        var network = ModelParts.Read(reader, ModelParts.Network);
        ModelParts.Read(reader, ModelParts.Posterior);
        var summary = stream.Position < stream.Length ? SummaryPart.Read(ModelParts.Read(reader, ModelParts.Summary)) : null;
        using var settingsReader = new BinaryReader(settings, System.Text.Encoding.UTF8);
        using var networkReader = new BinaryReader(network, System.Text.Encoding.UTF8);
        var task = ReadTask(settingsReader);
        ParameterSelection.Read(settingsReader);
        var (_, _, _, names) = ReadLayout(settingsReader);
        ReadDevice(settingsReader);
        return new NtkModelInfo(task, version, PretrainedNetwork.ReadDescription(networkReader), settingsReader.ReadString(), names, summary);
    }

    private static int ReadHeader(BinaryReader reader)
    {
        if (!reader.ReadBytes(Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is damaged or foreign (its header is wrong).");
        int version = reader.ReadInt32();
        if (version > FormatVersion)
            throw new InvalidDataException($"This Ntk model was saved in format version {version}; this library reads up to {FormatVersion}. " +
                                           "Update Microsoft.ML.Ntk.");
        if (version < 1) throw new InvalidDataException($"The Ntk model state has an impossible format version ({version}).");
        return version;
    }

    /// <summary>Version 2 and later: the settings, network and posterior parts, each verified against its checksum first.</summary>
    private static (Contents Contents, Stream Posterior) ReadParts(BinaryReader reader)
    {
        var settings = ModelParts.Read(reader, ModelParts.Settings);
        var network = ModelParts.Read(reader, ModelParts.Network);
        var posterior = ModelParts.Read(reader, ModelParts.Posterior);
        if (reader.BaseStream.Position < reader.BaseStream.Length) SummaryPart.Read(ModelParts.Read(reader, ModelParts.Summary));   // verified too
        using var settingsReader = new BinaryReader(settings, System.Text.Encoding.UTF8);
        using var networkReader = new BinaryReader(network, System.Text.Encoding.UTF8);
        var task = ReadTask(settingsReader);
        var selection = ParameterSelection.Read(settingsReader);
        var (mode, batch, layout, names) = ReadLayout(settingsReader);
        var device = ReadDevice(settingsReader);
        string featureColumn = settingsReader.ReadString();
        int[] outputOfKey = settings.Position < settings.Length ? ReadOutputOrder(settingsReader, names.Length) : Identity(names.Length);
        return (new Contents(task, PretrainedNetwork.Read(networkReader), selection, mode, batch, layout, names, device, featureColumn, outputOfKey), posterior);
    }

    /// <summary>Version 1: task, network, selection, tangent mode, batch size, layout and class names, then the posterior, without checksums.</summary>
    private static Contents ReadVersionOne(BinaryReader reader)
    {
        var task = ReadTask(reader);
        var network = PretrainedNetwork.Read(reader);
        var selection = ParameterSelection.Read(reader);
        var (mode, batch, layout, names) = ReadLayout(reader);
        return new Contents(task, network, selection, mode, batch, layout, names, CPU, FeatureColumn: "Features", Identity(names.Length));
    }

    private static int[] Identity(int count) => Enumerable.Range(0, count).ToArray();

    /// <summary>The output of each class key: a permutation of 0 … K−1.</summary>
    private static int[] ReadOutputOrder(BinaryReader reader, int classes)
    {
        int count = reader.ReadInt32();
        if (count != classes) throw new InvalidDataException($"The Ntk model's class order has {count} entries for {classes} classes.");
        int[] order = Enumerable.Range(0, count).Select(_ => reader.ReadInt32()).ToArray();
        if (!order.OrderBy(o => o).SequenceEqual(Identity(count)))
            throw new InvalidDataException("The Ntk model's class order is not a permutation of its outputs.");
        return order;
    }

    private static NtkTask ReadTask(BinaryReader reader)
    {
        var task = (NtkTask)reader.ReadByte();
        if (!Enum.IsDefined(task)) throw new InvalidDataException($"The Ntk model has an unknown task ({(byte)task}).");
        return task;
    }

    private static (TangentMode Mode, int Batch, InputLayout Layout, string[] Names) ReadLayout(BinaryReader reader)
    {
        var mode = (TangentMode)reader.ReadByte();
        if (!Enum.IsDefined(mode)) throw new InvalidDataException($"The Ntk model has an unknown tangent mode ({(byte)mode}).");
        int batch = reader.ReadInt32();
        if (batch < 1) throw new InvalidDataException($"The Ntk model has an impossible batch size ({batch}).");
        var layout = InputLayout.Read(reader);
        int classes = reader.ReadInt32();
        if (classes is < 0 or > 1_000_000) throw new InvalidDataException($"The Ntk model has an impossible class count ({classes}).");
        var names = Enumerable.Range(0, classes).Select(_ => reader.ReadString()).ToArray();
        return (mode, batch, layout, names);
    }

    private static Device ReadDevice(BinaryReader reader)
    {
        var type = (DeviceType)reader.ReadByte();
        int index = reader.ReadInt32();
        if (type is not (DeviceType.CPU or DeviceType.CUDA) || index < -1)
            throw new InvalidDataException($"The Ntk model names an impossible device ({type}, {index}).");
        return type == DeviceType.CPU ? CPU : new Device(type, index);
    }

    /// <summary>The fit's CUDA device where TorchSharp has it, else the CPU.</summary>
    private static Device PredictionDevice(Device fitted) =>
        fitted.type == DeviceType.CUDA && cuda.is_available() && fitted.index < cuda.device_count() ? fitted : CPU;
}
