namespace Microsoft.ML.Ntk.Linearization;

/// <summary>Limits for building J or K explicitly, which only small problems can afford.</summary>
internal static class ExplicitKernel
{
    /// <summary>The most bytes an explicit Jacobian (N·C × P, float64) may take: 2 GiB.</summary>
    public const long MaxJacobianBytes = 2L << 30;

    public static void CheckSize(long rows, long parameterCount)
    {
        if (rows * parameterCount * sizeof(double) > MaxJacobianBytes)
            throw new InvalidOperationException($"An explicit Jacobian of {rows} rows (inputs × outputs) × {parameterCount} parameters " +
                                                $"would exceed {MaxJacobianBytes >> 30} GiB; use kernel products instead.");
    }
}
