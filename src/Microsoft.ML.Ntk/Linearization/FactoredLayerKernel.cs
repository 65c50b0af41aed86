using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// A layer's part of the kernel from its factors over two input sets: for inputs n, m and outputs c, c′,
/// k = Σ_{s,t} (δ_{c,n,s} · δ_{c′,m,t}) (u_{n,s} · u_{m,t} + bias), summed over the layer's positions s and t (one for a
/// fully connected layer on vectors; the output pixels of a convolution, where u is the input patch the kernel sees and δ
/// the signal there). Rows are taken in chunks so that the position-pair products stay within
/// <see cref="LinearizationSettings.FactoredChunkBytes"/>; for one set against itself only the chunks on and below the
/// diagonal are formed and mirrored. The products run in the factors' precision (the network's: its Jacobian carries that
/// rounding already) and are added to the float64 kernel.
/// </summary>
internal static class FactoredLayerKernel
{
    /// <summary>
    /// A layer's factors over an input set: U [N, L, in] (null: weight not adapted), Δ [C, N, L, out], the bias flag; with
    /// <paramref name="Expand"/>, Inputs holds what U is formed from (a convolution's input, 1/(kh·kw) of its patches) and
    /// Expand forms U from any rows of it, so that kept factors stay small.
    /// </summary>
    public sealed record Factors(Tensor? Inputs, Tensor Signals, bool Bias, Func<Tensor, Tensor>? Expand = null)
    {
        public long Count => Signals.shape[1];
        public long Positions => Signals.shape[2];
        public long Outputs => Signals.shape[0];
        public long Bytes => (Inputs is null ? 0 : Inputs.numel() * Inputs.ElementSize) + Signals.numel() * Signals.ElementSize;

        /// <summary>These factors with U itself as the inputs (in the caller's scope when formed).</summary>
        public Factors Expanded() => Expand is null || Inputs is null ? this : new Factors(Expand(Inputs), Signals, Bias);
    }

    /// <summary>Adds K_c(X1, X2) of this layer to <paramref name="blocks"/> [C, N1, N2] for every output c.</summary>
    public static void AddBlocks(Tensor blocks, Factors first, Factors second)
    {
        long c = first.Outputs, l1 = first.Positions, l2 = second.Positions;
        AddByChunks(blocks, first, second, scale: 1, entriesPerRow: (c + 1) * l1 * second.Count * l2, (f1, f2, start, length, width) =>
        {
            Tensor gram = InputGram(f1, f2, start, length, width);                               // [len·L1, width·L2]
            Tensor left = f1.Signals.narrow(1, start, length).flatten(1, 2);                        // [C, len·L1, out]
            Tensor right = f2.Signals.narrow(1, 0, width).flatten(1, 2);                            // [C, width·L2, out]
            return left.bmm(right.transpose(1, 2)).mul_(gram).reshape(c, length, l1, width, l2).sum(new long[] { 2, 4 });
        });
    }

    /// <summary>
    /// G_c G_cᵀ of explicit rows by output [C, N, P] as [C, N, N] in float64: the rows as the factors of one position with a
    /// unit input gram, so that only the triangle on and below the diagonal is formed and mirrored.
    /// </summary>
    public static Tensor OwnBlocks(Tensor rowsByOutput)
    {
        using var scope = NewDisposeScope();
        var rows = new Factors(Inputs: null, rowsByOutput.unsqueeze(2), Bias: true);
        Tensor blocks = zeros(rows.Outputs, rows.Count, rows.Count, dtype: ScalarType.Float64, device: rowsByOutput.device);
        AddBlocks(blocks, rows, rows);
        return scope.MoveToOuter(blocks);
    }

    /// <summary>Adds K(X1, X2) of this layer to <paramref name="kernel"/> [N1·C, N2·C] (row n·C + c), every pair of outputs.</summary>
    public static void AddFull(Tensor kernel, Factors first, Factors second)
    {
        long c = first.Outputs, l1 = first.Positions, l2 = second.Positions;
        AddByChunks(kernel, first, second, scale: c, entriesPerRow: (c * c + 1) * l1 * second.Count * l2, (f1, f2, start, length, width) =>
        {
            Tensor gram = InputGram(f1, f2, start, length, width).reshape(length, 1, l1, width, 1, l2);
            Tensor left = f1.Signals.narrow(1, start, length).permute(1, 0, 2, 3).flatten(0, 2);      // [len·C·L1, out], row (n, c, s)
            Tensor right = f2.Signals.narrow(1, 0, width).permute(1, 0, 2, 3).flatten(0, 2);          // [width·C·L2, out]
            Tensor signals = left.mm(right.t()).reshape(length, c, l1, width, c, l2).mul_(gram);
            return signals.sum(new long[] { 2, 5 }).reshape(length * c, width * c);
        });
    }

    /// <summary>
    /// Adds term(f1, f2, start, length, width) — the kernel of the first set's rows [start, start + length) against the second
    /// set's rows [0, width), in the last two dimensions, <paramref name="scale"/> kernel rows per input, from the factors with
    /// their inputs expanded (once per call) — to the target. For one set against itself the term covers the columns up to the
    /// chunk's end and its part left of the chunk is mirrored.
    /// </summary>
    private static void AddByChunks(Tensor target, Factors first, Factors second, long scale, long entriesPerRow,
                                    Func<Factors, Factors, long, long, long, Tensor> term)
    {
        using var scope = NewDisposeScope();
        bool symmetric = ReferenceEquals(first, second);
        var f2 = second.Expanded();
        var f1 = symmetric ? f2 : first.Expanded();
        foreach (var (start, length) in Chunks(first.Count, entriesPerRow, symmetric))
        {
            using var chunk = NewDisposeScope();
            long width = symmetric ? start + length : second.Count;
            Tensor part = term(f1, f2, start, length, width).to(ScalarType.Float64);
            target.narrow(-2, start * scale, length * scale).narrow(-1, 0, width * scale).Accumulate(part);
            if (symmetric && start > 0)
                target.narrow(-2, 0, start * scale).narrow(-1, start * scale, length * scale).Accumulate(part.narrow(-1, 0, start * scale).transpose(-2, -1));
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

    /// <summary>U1 U2ᵀ (+ 1 with an adapted bias) for the first set's rows [start, start + length) and the second's [0, width): [len·L1, width·L2].</summary>
    private static Tensor InputGram(Factors f1, Factors f2, long start, long length, long width)
    {
        long rows = length * f1.Positions, columns = width * f2.Positions;
        Tensor gram = f1.Inputs is null || f2.Inputs is null
            ? zeros(rows, columns, dtype: f1.Signals.dtype, device: f1.Signals.device)
            : f1.Inputs.narrow(0, start, length).flatten(0, 1).mm(f2.Inputs.narrow(0, 0, width).flatten(0, 1).t());
        return f1.Bias ? gram.AccumulateConstant(1.0) : gram;
    }

    /// <summary>
    /// Row chunks of the first set whose temporaries (<paramref name="entriesPerRow"/> each) stay bounded; against itself at
    /// least eight chunks, so that the triangle skips most of the other half.
    /// </summary>
    private static IEnumerable<(long Start, long Length)> Chunks(long rows, long entriesPerRow, bool symmetric)
    {
        long perChunk = Math.Max(1, LinearizationSettings.FactoredChunkBytes / (sizeof(double) * Math.Max(1, entriesPerRow)));
        if (symmetric) perChunk = Math.Min(perChunk, Math.Max(1, (rows + 7) / 8));
        return DataBatches.Of(rows, (int)Math.Min(perChunk, int.MaxValue));
    }
}
