namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>When an iterative solve stops: a relative residual |b − A x| / |b| at most <see cref="Tolerance"/>, or
/// <see cref="MaxIterations"/>; and a token that cancels it between iterations.</summary>
internal sealed record SolverSettings(double Tolerance = 1e-6, int MaxIterations = 1000, CancellationToken Cancellation = default)
{
    public void Validate()
    {
        if (!(Tolerance > 0 && Tolerance < 1)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must lie in (0, 1).");
        if (MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "At least one iteration is needed.");
    }
}
