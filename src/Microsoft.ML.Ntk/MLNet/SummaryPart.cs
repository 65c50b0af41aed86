namespace Microsoft.ML.Ntk.MLNet;

/// <summary>The fit summary as the "summary" part of a saved state: every field of <see cref="NtkFitSummary"/>, warnings included.</summary>
internal static class SummaryPart
{
    public static void Write(Stream part, NtkFitSummary summary)
    {
        using var writer = new BinaryWriter(part, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write((byte)summary.Strategy);
        writer.Write(summary.TrainingRows);
        writer.Write(summary.AdaptedParameters);
        writer.Write(summary.PriorVariance);
        writer.Write(summary.NoiseVariance);
        writer.Write(summary.LogMarginalLikelihood);
        writer.Write(summary.HyperparameterIterations);
        writer.Write(summary.SolverIterations);
        writer.Write(summary.SolverResidual);
        writer.Write(summary.SolverConverged);
        writer.Write(summary.Elapsed.Ticks);
        writer.Write(summary.Warnings.Count);
        foreach (string warning in summary.Warnings) writer.Write(warning);
        writer.Write(summary.CovarianceScale);                     // after the warnings: models saved before it end there
        writer.Write(summary.IndependentOutputs);                  // last: models saved before it end at the scale
    }

    public static NtkFitSummary Read(Stream part)
    {
        using var reader = new BinaryReader(part, System.Text.Encoding.UTF8);
        var strategy = (InferenceStrategy)reader.ReadByte();
        if (!Enum.IsDefined(strategy)) throw new InvalidDataException($"The Ntk model's fit summary names an unknown strategy ({(byte)strategy}).");
        long rows = reader.ReadInt64(), parameters = reader.ReadInt64();
        double prior = reader.ReadDouble(), noise = reader.ReadDouble(), logMarginal = reader.ReadDouble();
        int hyperIterations = reader.ReadInt32(), solverIterations = reader.ReadInt32();
        double residual = reader.ReadDouble();
        bool converged = reader.ReadBoolean();
        var elapsed = TimeSpan.FromTicks(reader.ReadInt64());
        int count = reader.ReadInt32();
        if (count is < 0 or > 10_000) throw new InvalidDataException($"The Ntk model's fit summary claims {count} warnings.");
        var warnings = Enumerable.Range(0, count).Select(_ => reader.ReadString()).ToArray();
        double scale = part.CanSeek && part.Position >= part.Length ? 1 : reader.ReadDouble();
        if (!(scale > 0 && double.IsFinite(scale))) throw new InvalidDataException($"The Ntk model's fit summary has a covariance scale of {scale}.");
        bool independent = !(part.CanSeek && part.Position >= part.Length) && reader.ReadBoolean();
        return new NtkFitSummary(strategy, rows, parameters, prior, noise, logMarginal, hyperIterations, solverIterations, residual, converged, elapsed, warnings, scale,
                                 independent);
    }
}
