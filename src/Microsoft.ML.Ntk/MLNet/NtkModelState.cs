using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>The task a saved model predicts for.</summary>
internal enum NtkTask : byte { Regression = 1, Multiclass = 2 }

/// <summary>
/// Everything prediction needs, as one versioned byte stream stored as base64 text inside the ML.NET model: "NTKM", the
/// format version, the task, the network (how to rebuild it), the adapted-parameter selection, the tangent mode and batch
/// size, the input layout, the class names (multiclass), the device of the fit (from version 2), and the posterior
/// (<see cref="PosteriorSerializer"/>). A model fitted on a CUDA device predicts on that device where TorchSharp has it, on
/// the CPU elsewhere (the same numbers up to rounding); version 1 states predict on the CPU.
/// </summary>
internal static class NtkModelState
{
    public const int FormatVersion = 2;
    private static readonly byte[] Magic = "NTKM"u8.ToArray();

    public sealed record Contents(NtkTask Task, PretrainedNetwork Network, ParameterSelection Selection, TangentMode Mode, int BatchSize,
                                  InputLayout Layout, string[] ClassNames, Device Device);

    /// <summary>The network's float64 copy on the device, linearized as the options say: training and prediction build it alike.</summary>
    public static LinearizedNetwork Linearize(nn.Module copy, ParameterSelection selection, TangentMode mode, int batchSize, Device device)
    {
        copy.to(ScalarType.Float64);
        copy.to(device);
        return new LinearizedNetwork(copy, selection, mode, batchSize);
    }

    public static string Encode(Contents contents, Action<Stream> writePosterior)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write((byte)contents.Task);
            contents.Network.Write(writer);
            contents.Selection.Write(writer);
            writer.Write((byte)contents.Mode);
            writer.Write(contents.BatchSize);
            contents.Layout.Write(writer);
            writer.Write(contents.ClassNames.Length);
            foreach (string name in contents.ClassNames) writer.Write(name);
            writer.Write((byte)contents.Device.type);
            writer.Write(contents.Device.index);
        }
        writePosterior(stream);
        return Convert.ToBase64String(stream.GetBuffer(), 0, (int)stream.Length);
    }

    public static NtkPredictor Decode(ReadOnlySpan<char> text)
    {
        byte[] bytes = new byte[text.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64Chars(text, bytes, out int length))
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is damaged (it is not valid base64 text).");
        using var stream = new MemoryStream(bytes, 0, length, writable: false);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            var contents = ReadContents(reader);
            var network = Linearize(contents.Network.Module, contents.Selection, contents.Mode, contents.BatchSize, PredictionDevice(contents.Device));
            return contents.Task == NtkTask.Regression
                ? new NtkPredictor(contents.Layout, PosteriorSerializer.ReadRegression(stream, network))
                : new NtkPredictor(contents.Layout, PosteriorSerializer.ReadClassification(stream, network), contents.ClassNames);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is cut short.", ex);
        }
    }

    private static Contents ReadContents(BinaryReader reader)
    {
        if (!reader.ReadBytes(Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException("The Ntk model state inside this ML.NET model is damaged or foreign (its header is wrong).");
        int version = reader.ReadInt32();
        if (version > FormatVersion)
            throw new InvalidDataException($"This Ntk model was saved in format version {version}; this library reads up to {FormatVersion}. " +
                                           "Update Microsoft.ML.Ntk.");
        var task = (NtkTask)reader.ReadByte();
        if (task is not (NtkTask.Regression or NtkTask.Multiclass)) throw new InvalidDataException($"The Ntk model has an unknown task ({(byte)task}).");
        var network = PretrainedNetwork.Read(reader);
        var selection = ParameterSelection.Read(reader);
        var mode = (TangentMode)reader.ReadByte();
        int batch = reader.ReadInt32();
        var layout = InputLayout.Read(reader);
        int classes = reader.ReadInt32();
        if (classes is < 0 or > 1_000_000) throw new InvalidDataException($"The Ntk model has an impossible class count ({classes}).");
        var names = Enumerable.Range(0, classes).Select(_ => reader.ReadString()).ToArray();
        var device = version >= 2 ? ReadDevice(reader) : CPU;
        return new Contents(task, network, selection, mode, batch, layout, names, device);
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
