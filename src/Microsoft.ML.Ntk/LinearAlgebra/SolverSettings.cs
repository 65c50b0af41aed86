namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>What a solver's step is: an iteration of a solve (conjugate gradients, Newton) or an evaluation of a search (hyperparameters).</summary>
internal enum SolverPhase { Iterating, Searching }

/// <summary>Receives a solver's steps; <paramref name="message"/> builds the text only when the receiver wants it.</summary>
internal delegate void SolverProgress(SolverPhase phase, int step, Func<string> message);

/// <summary>When an iterative solve stops: a relative residual |b − A x| / |b| at most <see cref="Tolerance"/>, or
/// <see cref="MaxIterations"/>; a token that cancels it between iterations; and where its progress is reported (a callback of
/// this layer's own, so that the linear algebra knows nothing of the fit that uses it).</summary>
internal sealed record SolverSettings(double Tolerance = 1e-6, int MaxIterations = 1000, CancellationToken Cancellation = default,
                                      SolverProgress? Progress = null)
{
    /// <summary>Reports a step to <see cref="Progress"/>, if any.</summary>
    public void Report(SolverPhase phase, int step, Func<string> message) => Progress?.Invoke(phase, step, message);

    public void Validate()
    {
        if (!(Tolerance > 0 && Tolerance < 1)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must lie in (0, 1).");
        if (MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "At least one iteration is needed.");
    }
}
