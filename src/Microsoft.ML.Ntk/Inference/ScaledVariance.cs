using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The latent covariance of another variance form multiplied by a scale τ > 0: the softmax Laplace covariance with the
/// scale chosen on held-out labels (<see cref="CovarianceScaleSelection"/>). Saved as τ followed by the inner form.
/// </summary>
internal sealed class ScaledVariance : IPosteriorVariance
{
    public ScaledVariance(IPosteriorVariance inner, double scale)
    {
        if (!(scale > 0 && double.IsFinite(scale))) throw new ArgumentOutOfRangeException(nameof(scale), scale, "A covariance scale must be positive and finite.");
        Inner = inner;
        Scale = scale;
    }

    public IPosteriorVariance Inner { get; }

    /// <summary>τ.</summary>
    public double Scale { get; }

    public Tensor Latent(TestInputs inputs) => Inner.Latent(inputs).Times(Scale);

    public Tensor Covariance(TestInputs inputs) => Inner.Covariance(inputs).Times(Scale);

    public long Bytes => Inner.Bytes;

    public void AdoptPrepared(IPosteriorVariance fitted)
    {
        if (fitted is ScaledVariance scaled) Inner.AdoptPrepared(scaled.Inner);
    }

    public const byte Kind = 4;

    public byte SavedKind => Kind;

    public void Write(BinaryWriter writer)
    {
        writer.Write(Scale);
        PosteriorSerializer.WriteVariance(writer, Inner);
    }

    public static IPosteriorVariance Read(BinaryReader reader, Linearization.LinearizedNetwork network, double priorVariance, double noiseVariance)
    {
        double scale = reader.ReadDouble();
        if (!(scale > 0 && double.IsFinite(scale))) throw new InvalidDataException($"The saved posterior is damaged: its covariance scale is {scale}.");
        var inner = PosteriorSerializer.ReadVariance(reader, network, priorVariance, noiseVariance);
        if (inner is ScaledVariance) throw new InvalidDataException("The saved posterior is damaged: a scaled variance inside a scaled variance.");
        return new ScaledVariance(inner, scale);
    }
}
