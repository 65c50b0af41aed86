using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The fitted posterior as bytes, without the network (saved apart): "NTKP", a format version, the kind (regression or
/// classification), P, the prior mean and its constants, s², σ², Δθ, the variance state (kernel space: the training
/// inputs as the head sees them, the root's left factor and Cholesky factor; weight space: the Lanczos basis and the
/// Cholesky factor; independent-output Laplace (from version 2): the training inputs, L_c, D_c^½ and M), the classification settings, and the strategy and log marginal likelihood for display.
/// From version 3 the Cholesky factors are written as their lower triangles only (<see cref="TensorSerialization.WriteLowerTriangular"/>);
/// versions 1 and 2, with full factors, are still read. Reading checks the magic, the version, P against the network, and every size against the stream.
/// </summary>
internal static class PosteriorSerializer
{
    public const int FormatVersion = 3;
    private static readonly byte[] Magic = "NTKP"u8.ToArray();

    public static void Write(Stream stream, RegressionPosterior posterior) =>
        Write(stream, 1, posterior.Network, posterior.Mean, posterior.ConstantMean, posterior.PriorVariance, posterior.NoiseVariance,
              posterior.ParameterShift, posterior.Variance, posterior.Report, null);

    public static void Write(Stream stream, ClassificationPosterior posterior) =>
        Write(stream, 2, posterior.Network, posterior.Mean, Array.Empty<double>(), posterior.PriorVariance, posterior.Report.NoiseVariance,
              posterior.ParameterShift, posterior.Variance, posterior.Report, posterior.Settings);

    public static RegressionPosterior ReadRegression(Stream stream, LinearizedNetwork network)
    {
        var state = Read(stream, network, expectedKind: 1);
        return new RegressionPosterior(network, state.Mean, state.Constant, state.PriorVariance, state.NoiseVariance, state.Shift, state.Variance, state.Report);
    }

    public static ClassificationPosterior ReadClassification(Stream stream, LinearizedNetwork network)
    {
        var state = Read(stream, network, expectedKind: 2);
        return new ClassificationPosterior(network, state.Mean, state.PriorVariance, state.Shift, state.Variance, state.Classification!, state.Report);
    }

    private static void Write(Stream stream, byte kind, LinearizedNetwork network, PriorMean mean, double[] constant, double priorVariance,
                              double noiseVariance, Tensor shift, IPosteriorVariance variance, FitReport report, ClassificationSettings? classification)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(kind);
        writer.Write(network.Parameters.Count);
        writer.Write((byte)mean);
        writer.Write(constant.Length);
        foreach (double c in constant) writer.Write(c);
        writer.Write(priorVariance);
        writer.Write(noiseVariance);
        TensorSerialization.Write(writer, shift);
        WriteVariance(writer, variance);
        if (classification is not null)
        {
            writer.Write((byte)classification.Likelihood);
            writer.Write((byte)classification.Predictive);
            writer.Write(classification.MonteCarloSamples);
            writer.Write(classification.Seed);
        }
        writer.Write((byte)report.Strategy);
        writer.Write(report.LogMarginalLikelihood);
    }

    internal static void WriteVariance(BinaryWriter writer, IPosteriorVariance variance)
    {
        if (!Readers.ContainsKey(variance.SavedKind)) throw new NotSupportedException($"Cannot save a variance of type {variance.GetType().Name}.");
        writer.Write(variance.SavedKind);
        variance.Write(writer);
    }

    /// <summary>Each saved variance form's reader, by its kind byte: a new form is its class (Kind, Write, Read) and a line here.</summary>
    private static readonly Dictionary<byte, Func<BinaryReader, LinearizedNetwork, double, double, IPosteriorVariance>> Readers = new()
    {
        [KernelSpaceVariance.Kind] = KernelSpaceVariance.Read,
        [WeightSpaceVariance.Kind] = WeightSpaceVariance.Read,
        [IndependentLaplaceVariance.Kind] = IndependentLaplaceVariance.Read,
        [ScaledVariance.Kind] = ScaledVariance.Read,
    };

    private sealed record State(PriorMean Mean, double[] Constant, double PriorVariance, double NoiseVariance, Tensor Shift,
                                IPosteriorVariance Variance, ClassificationSettings? Classification, FitReport Report);

    private static State Read(Stream stream, LinearizedNetwork network, byte expectedKind)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (!reader.ReadBytes(4).SequenceEqual(Magic)) throw new InvalidDataException("This is not a saved Ntk posterior (the header is wrong).");
            int version = reader.ReadInt32();
            if (version > FormatVersion)
                throw new InvalidDataException($"The posterior was saved in format version {version}; this library reads up to {FormatVersion}. Update Microsoft.ML.Ntk.");
            byte kind = reader.ReadByte();
            if (kind != expectedKind)
                throw new InvalidDataException($"The saved posterior is a {(kind == 1 ? "regression" : "classification")} posterior, not a {(expectedKind == 1 ? "regression" : "classification")} one.");
            long parameters = reader.ReadInt64();
            if (parameters != network.Parameters.Count)
                throw new InvalidDataException($"The posterior was fitted with {parameters} adapted parameters, but the network adapts {network.Parameters.Count}.");
            var mean = (PriorMean)reader.ReadByte();
            int constants = reader.ReadInt32();
            if (constants is < 0 or > 1_000_000) throw new InvalidDataException("The saved constant mean has an impossible size.");
            var constant = Enumerable.Range(0, constants).Select(_ => reader.ReadDouble()).ToArray();
            if (!Enum.IsDefined(mean)) throw new InvalidDataException($"The saved posterior has an unknown prior mean ({(byte)mean}).");
            double prior = reader.ReadDouble(), noise = reader.ReadDouble();
            if (!(prior > 0 && double.IsFinite(prior))) throw new InvalidDataException($"The saved posterior is damaged: its prior variance is {prior}.");
            if (!(noise >= 0 && double.IsFinite(noise))) throw new InvalidDataException($"The saved posterior is damaged: its noise variance is {noise}.");
            if (constant.Any(c => !double.IsFinite(c))) throw new InvalidDataException("The saved posterior is damaged: its constant mean is not finite.");
            Tensor shift = TensorSerialization.ReadFinite(reader, "parameter shift");
            if (shift.shape[^1] != parameters) throw new InvalidDataException($"The saved parameter shift has {shift.shape[^1]} columns, not {parameters}.");
            var variance = ReadVariance(reader, network, prior, noise);
            ClassificationSettings? classification = expectedKind == 2
                ? new ClassificationSettings((ClassificationLikelihood)reader.ReadByte(), mean, prior, noise, (PredictiveApproximation)reader.ReadByte(),
                                             reader.ReadInt32(), reader.ReadInt32())
                : null;
            var strategy = (InferenceStrategy)reader.ReadByte();
            double logMarginal = reader.ReadDouble();
            var report = FitReport.Loaded(strategy, prior, noise, constant, logMarginal);
            return new State(mean, constant, prior, noise, shift, variance, classification, report);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The saved posterior is cut short.", ex);
        }
    }

    internal static IPosteriorVariance ReadVariance(BinaryReader reader, LinearizedNetwork network, double prior, double noise)
    {
        byte kind = reader.ReadByte();
        return Readers.TryGetValue(kind, out var read) ? read(reader, network, prior, noise)
                                                       : throw new InvalidDataException($"The saved variance has an unknown kind ({kind}).");
    }
}
