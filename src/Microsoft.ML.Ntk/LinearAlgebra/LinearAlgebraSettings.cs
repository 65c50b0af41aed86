namespace Microsoft.ML.Ntk.LinearAlgebra;

/// <summary>
/// The numbers of this layer that decide behaviour (budgets, tolerances, iteration limits, search ranges), each with why it
/// has its value, in one place.
/// </summary>
internal static class LinearAlgebraSettings
{
    /// <summary>The largest jitter tried, relative to the mean diagonal of A.</summary>
    public const double MaxRelativeJitter = 1e-2;

    /// <summary>The first jitter tried after none, relative to the mean diagonal; it grows tenfold up to <see cref="MaxRelativeJitter"/>.</summary>
    public const double FirstRelativeJitter = 1e-10;

    /// <summary>The default width of the final bracket: 0.02 in log s² is a 2 % uncertainty on the prior variance.</summary>
    public const double ScalarSearchTolerance = 0.02;

    /// <summary>The most Brent steps of a scalar search after its bracket (each shrinks it by at least the golden ratio in the end).</summary>
    public const int ScalarSearchRefinements = 60;

    /// <summary>How often a solve restarts from its true residual before it reports what it reached.</summary>
    public const int ConjugateGradientRestarts = 5;

    /// <summary>
    /// A pivoted Cholesky of explicit blocks stops using a block once its largest remaining diagonal entry is below this
    /// fraction of its largest diagonal entry: what remains is rounding of a block of lower rank (a last layer's kernel has
    /// rank H + 1), and dividing by it would give columns of noise.
    /// </summary>
    public const double PivotFloor = 1e-12;
}
