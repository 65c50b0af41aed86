namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>When an iterative solve stops: a relative residual |b − A x| / |b| at most <see cref="Tolerance"/>, or
/// <see cref="MaxIterations"/>; a token that cancels it between iterations; and where its progress is reported.</summary>
internal sealed record SolverSettings(double Tolerance = 1e-6, int MaxIterations = 1000, CancellationToken Cancellation = default,
                                      IProgress<NtkProgress>? Progress = null)
{
    /// <summary>Reports a step of a stage to <see cref="Progress"/>, if any; the message is built only when someone listens.</summary>
    public void Report(NtkFitStage stage, int step, Func<string> message) => Progress?.Report(new NtkProgress(stage, step, message()));

    public void Validate()
    {
        if (!(Tolerance > 0 && Tolerance < 1)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must lie in (0, 1).");
        if (MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "At least one iteration is needed.");
    }
}
