namespace Microsoft.ML.Ntk.Linearization;

/// <summary>Limits for building J or K explicitly, which only small problems can afford.</summary>
internal static class ExplicitKernel
{
    public static void CheckSize(long rows, long parameterCount)
    {
        if (rows * parameterCount * sizeof(double) > LinearizationSettings.MaxJacobianBytes)
            throw new InvalidOperationException($"An explicit Jacobian of {rows} rows (inputs × outputs) × {parameterCount} parameters " +
                                                $"would exceed {LinearizationSettings.MaxJacobianBytes >> 30} GiB; use kernel products instead.");
    }
}
