using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// A layer's part of the kernel from its factors over two input sets: for inputs n, m and outputs c, c′,
/// k = Σ_{s,t} (δ_{c,n,s} · δ_{c′,m,t}) (u_{n,s} · u_{m,t} + bias), summed over the layer's positions s and t (one for a
/// fully connected layer on vectors; the output pixels of a convolution, where u is the input patch the kernel sees and δ
/// the signal there). Rows are taken in chunks so that the position-pair products stay within
/// <see cref="LinearizationSettings.FactoredChunkBytes"/>; the factors are converted to float64 one layer at a time.
/// </summary>
internal static class FactoredLayerKernel
{
    /// <summary>A layer's factors over an input set: U [N, L, in] (null: weight not adapted), Δ [C, N, L, out], the bias flag.</summary>
    public sealed record Factors(Tensor? Inputs, Tensor Signals, bool Bias)
    {
        public long Count => Signals.shape[1];
        public long Positions => Signals.shape[2];

        public Factors InFloat64() => new(Inputs?.to(ScalarType.Float64), Signals.to(ScalarType.Float64), Bias);
    }

    /// <summary>Adds K_c(X1, X2) of this layer to <paramref name="blocks"/> [C, N1, N2] for every output c.</summary>
    public static void AddBlocks(Tensor blocks, Factors first, Factors second)
    {
        using var scope = NewDisposeScope();
        var (f1, f2) = (first.InFloat64(), ReferenceEquals(first, second) ? null : second.InFloat64());
        f2 ??= f1;
        long outputs = f1.Signals.shape[0], l1 = f1.Positions, n2 = f2.Count, l2 = f2.Positions;
        foreach (var (start, length) in Chunks(f1.Count, l1 * n2 * l2 * 2))
        {
            using var chunk = NewDisposeScope();
            Tensor gram = InputGram(f1, f2, start, length);                                    // [len·L1, N2·L2]
            for (long c = 0; c < outputs; c++)
            {
                using var term = NewDisposeScope();
                Tensor signals = f1.Signals[c].narrow(0, start, length).flatten(0, 1).mm(f2.Signals[c].flatten(0, 1).t()).mul_(gram);
                blocks[c].narrow(0, start, length).Accumulate(signals.reshape(length, l1, n2, l2).sum(new long[] { 1, 3 }));
            }
        }
    }

    /// <summary>Adds K(X1, X2) of this layer to <paramref name="kernel"/> [N1·C, N2·C] (row n·C + c), every pair of outputs.</summary>
    public static void AddFull(Tensor kernel, Factors first, Factors second)
    {
        using var scope = NewDisposeScope();
        var (f1, f2) = (first.InFloat64(), ReferenceEquals(first, second) ? null : second.InFloat64());
        f2 ??= f1;
        long c = f1.Signals.shape[0], l1 = f1.Positions, n2 = f2.Count, l2 = f2.Positions;
        Tensor right = f2.Signals.permute(1, 0, 2, 3).flatten(0, 2);                           // [N2·C·L2, out], row (m, c′, t)
        foreach (var (start, length) in Chunks(f1.Count, c * l1 * n2 * c * l2 + l1 * n2 * l2))
        {
            using var chunk = NewDisposeScope();
            Tensor gram = InputGram(f1, f2, start, length).reshape(length, 1, l1, n2, 1, l2);
            Tensor left = f1.Signals.narrow(1, start, length).permute(1, 0, 2, 3).flatten(0, 2);   // [len·C·L1, out]
            Tensor signals = left.mm(right.t()).reshape(length, c, l1, n2, c, l2).mul_(gram);
            kernel.narrow(0, start * c, length * c).Accumulate(signals.sum(new long[] { 2, 5 }).reshape(length * c, n2 * c));
        }
    }

    /// <summary>
    /// Whether a layer's factored form is the one to use for N inputs and C outputs (<paramref name="outputPairs"/> C for the
    /// blocks, C² for the full kernel): when it takes fewer multiply-adds than forming and multiplying the explicit gradients,
    /// N²L²(pairs·out + in) against N·C·L·out·in + N²·pairs·out·in, or when those gradients alone would exceed the explicit
    /// Jacobian's limit. A fully connected layer on vectors (L = 1) always qualifies; a convolution does where its outputs
    /// have few pixels and many channels (a ResNet's last stage), not on large images with few channels.
    /// </summary>
    public static bool Pays(long n, long outputs, long outputPairs, long positions, long inputWidth, long outputWidth)
    {
        double parameters = (double)outputWidth * (inputWidth + 1);
        double factored = (double)n * n * positions * positions * ((double)outputPairs * outputWidth + inputWidth);
        double formed = (double)n * outputs * positions * parameters + (double)n * n * outputPairs * parameters;
        return factored <= formed || (double)n * outputs * parameters * sizeof(double) > LinearizationSettings.MaxJacobianBytes;
    }

    /// <summary>U1 U2ᵀ (+ 1 with an adapted bias) for the rows [start, start + length) of the first set: [len·L1, N2·L2].</summary>
    private static Tensor InputGram(Factors f1, Factors f2, long start, long length)
    {
        long rows = length * f1.Positions, columns = f2.Count * f2.Positions;
        Tensor gram = f1.Inputs is null || f2.Inputs is null
            ? zeros(rows, columns, dtype: ScalarType.Float64, device: f1.Signals.device)
            : f1.Inputs.narrow(0, start, length).flatten(0, 1).mm(f2.Inputs.flatten(0, 1).t());
        return f1.Bias ? gram.AccumulateConstant(1.0) : gram;
    }

    /// <summary>Row chunks of the first set such that each chunk's temporaries (<paramref name="entriesPerRow"/> each) stay bounded.</summary>
    private static IEnumerable<(long Start, long Length)> Chunks(long rows, long entriesPerRow)
    {
        long perChunk = Math.Max(1, LinearizationSettings.FactoredChunkBytes / (sizeof(double) * Math.Max(1, entriesPerRow)));
        return DataBatches.Of(rows, (int)Math.Min(perChunk, int.MaxValue));
    }
}
