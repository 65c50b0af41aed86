using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// How a feature vector becomes one network input: its shape (channels first) and an optional per-channel
/// normalization (x − mean_c) / std_c, the channel being the first axis. Saved with the model so that prediction
/// prepares inputs exactly as training did.
/// </summary>
internal sealed class InputLayout
{
    public InputLayout(long[] shape, float[]? means, float[]? standardDeviations)
    {
        Shape = shape;
        Means = means;
        StandardDeviations = standardDeviations;
        Length = shape.Aggregate(1L, (a, b) => a * b);
        if (means is not null && means.Length != shape[0])
            throw new ArgumentException($"{means.Length} channel means were given, but the input shape [{string.Join(", ", shape)}] has " +
                                        $"{shape[0]} channels (its first axis).", nameof(NtkTrainerOptions.ChannelMeans));
    }

    public long[] Shape { get; }
    public float[]? Means { get; }
    public float[]? StandardDeviations { get; }

    /// <summary>The feature vector's length: the product of the shape.</summary>
    public long Length { get; }

    /// <summary>
    /// The shape for a feature vector of <paramref name="featureLength"/> values: the one the user gave, else the built-in
    /// architecture's, else [featureLength]; an error names both lengths when they disagree.
    /// </summary>
    public static InputLayout Resolve(NtkTrainerOptions options, long featureLength, string featureColumn)
    {
        long[]? architecture = options.Network!.InputShape;
        long[] shape = options.InputShape?.Select(d => (long)d).ToArray() ?? architecture ?? new[] { featureLength };
        var layout = new InputLayout(shape, options.ChannelMeans, options.ChannelStandardDeviations);
        if (layout.Length != featureLength)
            throw new ArgumentException($"The feature column '{featureColumn}' holds vectors of {featureLength} values, but the input shape " +
                                        $"[{string.Join(", ", shape)}] needs {layout.Length}. Set Options.InputShape to match the features.");
        if (architecture is not null && !architecture.SequenceEqual(shape))
            throw new ArgumentException($"The input shape [{string.Join(", ", shape)}] differs from the network's [{string.Join(", ", architecture)}] " +
                                        $"({options.Network.Description}).");
        return layout;
    }

    /// <summary>Rows of features, [count × Length] row-major, as network inputs [count, ...Shape] in float64, normalized.</summary>
    public Tensor ToInputs(float[] values, long count)
    {
        using var scope = NewDisposeScope();
        Tensor x = tensor(values, dtype: ScalarType.Float32).to(ScalarType.Float64).reshape(new[] { count }.Concat(Shape).ToArray());
        if (Means is not null)
        {
            long[] channelShape = new[] { 1L, Shape[0] }.Concat(Enumerable.Repeat(1L, Shape.Length - 1)).ToArray();
            Tensor mean = tensor(Means, dtype: ScalarType.Float32).to(ScalarType.Float64).reshape(channelShape);
            Tensor std = tensor(StandardDeviations!, dtype: ScalarType.Float32).to(ScalarType.Float64).reshape(channelShape);
            x = (x - mean) / std;
        }
        return scope.MoveToOuter(x);
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(Shape.Length);
        foreach (long d in Shape) writer.Write(d);
        WriteFloats(writer, Means);
        WriteFloats(writer, StandardDeviations);
    }

    public static InputLayout Read(BinaryReader reader)
    {
        int rank = reader.ReadInt32();
        if (rank is < 1 or > 8) throw new InvalidDataException($"The saved input shape has an impossible rank ({rank}).");
        long[] shape = Enumerable.Range(0, rank).Select(_ => reader.ReadInt64()).ToArray();
        return new InputLayout(shape, ReadFloats(reader), ReadFloats(reader));
    }

    private static void WriteFloats(BinaryWriter writer, float[]? values)
    {
        writer.Write(values?.Length ?? -1);
        foreach (float v in values ?? Array.Empty<float>()) writer.Write(v);
    }

    private static float[]? ReadFloats(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < -1 || length > 1_000_000) throw new InvalidDataException("The saved channel normalization has an impossible size.");
        return length < 0 ? null : Enumerable.Range(0, length).Select(_ => reader.ReadSingle()).ToArray();
    }
}
