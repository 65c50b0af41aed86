namespace Microsoft.ML.Ntk.Linearization;

/// <summary>Consecutive ranges [Start, Start + Length) of at most a batch size, covering N rows.</summary>
internal static class DataBatches
{
    public static IEnumerable<(long Start, long Length)> Of(long count, int batchSize)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");
        for (long start = 0; start < count; start += batchSize)
            yield return (start, Math.Min(batchSize, count - start));
    }
}
