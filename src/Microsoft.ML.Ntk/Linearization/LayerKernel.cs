using Microsoft.ML.Ntk.Linearization.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>When a layer whose rule has a factored kernel uses it rather than its explicit per-example gradients.</summary>
internal enum Factoring
{
    /// <summary>Where it takes fewer operations or the gradients would not fit (<see cref="FactoredLayerKernel.Pays"/>).</summary>
    WhenItPays,

    /// <summary>Wherever the rule has the form (for tests of the factored parts).</summary>
    Always,
}

/// <summary>
/// The explicit kernel of a network of known layers, summed layer by layer from one forward and C backward passes per batch
/// (<see cref="LayerSignals"/>): a layer whose rule has a factored kernel adds its part from its inputs and signals
/// (<see cref="FactoredLayerKernel"/>) where that pays, a fully connected layer always, a convolution with few output pixels
/// and many channels (a ResNet's last stage) too; the others add G Gᵀ from their per-example gradients.
/// </summary>
internal static class LayerKernel
{
    /// <summary>
    /// The C diagonal blocks K_c(X, X) as [C, N, N] in float64, or null when a module or parameter occurs twice in the
    /// network (the layer sums would miss the cross terms between its uses: the caller forms J instead).
    /// </summary>
    public static Tensor? Blocks(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, Factoring factoring = Factoring.WhenItPays)
    {
        using var parts = Collect(head, x, 0, x.Count, outputs, batchSize, new Plan(x.Count, outputs, factoring));
        return parts?.Blocks(parts);
    }

    /// <summary>K(X, X) as [N·C, N·C] in float64, row n·C + c; null as for <see cref="Blocks"/>.</summary>
    public static Tensor? Full(NetworkFunction head, PreparedInputs x, int outputs, int batchSize, Factoring factoring = Factoring.WhenItPays)
    {
        using var parts = Collect(head, x, 0, x.Count, outputs, batchSize, new Plan(x.Count, (long)outputs * outputs, factoring));
        return parts?.Full(parts);
    }

    /// <summary>
    /// The cross kernel K(X*, X) [B·C, N·C] (only its output-diagonal entries when <paramref name="blocksOnly"/>, the rest
    /// zero) and the exact diagonal k_cc(x*, x*) [B, C], in float64; null as for <see cref="Blocks"/>. The parts of X* are
    /// formed once; those of X a batch at a time, so that memory follows the batch and not N: C backward passes over X per
    /// call, instead of B·C tangent passes or an explicit Jacobian of X*.
    /// </summary>
    public static (Tensor Cross, Tensor Diagonal)? Cross(NetworkFunction head, PreparedInputs test, PreparedInputs training, int outputs,
                                                         int batchSize, bool blocksOnly, Parts? kept = null)
    {
        using var scope = NewDisposeScope();
        var plan = kept?.Plan ?? TrainingPlan(training.Count, outputs, blocksOnly);
        using var own = Collect(head, test, 0, test.Count, outputs, batchSize, plan);
        if (own is null) return null;
        long b = test.Count, n = training.Count, c = outputs;
        Tensor diagonal = own.Blocks(own).diagonal(0, 1, 2).t();                                  // [B, C]
        Tensor cross = blocksOnly ? zeros(c, b, n, dtype: ScalarType.Float64, device: diagonal.device)
                                  : zeros(b * c, n * c, dtype: ScalarType.Float64, device: diagonal.device);
        long perChunk = LinearizationSettings.MaxJacobianBytes / (c * Math.Max(1, own.ExplicitWidth) * sizeof(double));
        foreach (var (start, length) in kept is null ? DataBatches.Of(n, (int)Math.Clamp(perChunk, 1, batchSize)) : new[] { (0L, n) })
        {
            using var fresh = kept is null ? Collect(head, training, start, length, outputs, batchSize, plan)! : null;
            var part = fresh ?? kept!;
            if (blocksOnly) cross.narrow(2, start, length).Accumulate(own.Blocks(part));
            else cross.narrow(1, start * c, length * c).Accumulate(own.Full(part));
        }
        if (blocksOnly) cross = diag_embed(cross.permute(1, 2, 0)).permute(0, 2, 1, 3).reshape(b * c, n * c);   // [B, C, N, C] masked
        return (scope.MoveToOuter(cross), scope.MoveToOuter(diagonal));
    }

    /// <summary>
    /// The parts of the training inputs, for cross kernels against them without passes over them (<see cref="Cross"/>), when
    /// they take at most <paramref name="budgetBytes"/> (estimated from the first batch); else null, as when parameters are shared.
    /// </summary>
    public static Parts? Keep(NetworkFunction head, PreparedInputs training, int outputs, int batchSize, bool blocksOnly, long budgetBytes)
    {
        var plan = TrainingPlan(training.Count, outputs, blocksOnly);
        long first = Math.Min(batchSize, training.Count);
        using (var sample = Collect(head, training, 0, first, outputs, batchSize, plan))
            if (sample is null || (double)sample.Bytes / first * training.Count > budgetBytes) return null;
        return Collect(head, training, 0, training.Count, outputs, batchSize, plan);
    }

    /// <summary>
    /// Whether the layer-summed kernel of these inputs can be formed within the explicit Jacobian's limit (its explicit part
    /// N·C × P_explicit, judged from the first batch), false when parameters are shared.
    /// </summary>
    public static bool Fits(NetworkFunction head, PreparedInputs x, int outputs, int batchSize)
    {
        using var sample = Collect(head, x, 0, Math.Min(batchSize, x.Count), outputs, batchSize, TrainingPlan(x.Count, outputs, blocksOnly: false));
        return sample is not null && x.Count * outputs * sample.ExplicitWidth * sizeof(double) <= LinearizationSettings.MaxJacobianBytes;
    }

    private static Plan TrainingPlan(long count, int outputs, bool blocksOnly) =>
        new(count, blocksOnly ? outputs : (long)outputs * outputs, Factoring.WhenItPays);

    /// <summary>
    /// Which layers use their factors, decided at the first batch for a set of <paramref name="count"/> inputs and
    /// <paramref name="outputPairs"/> pairs of outputs, and then kept, so that both sides of a cross kernel split alike.
    /// </summary>
    public sealed class Plan(long count, long outputPairs, Factoring factoring)
    {
        private bool[]? factorsOf;

        internal bool Factored(int layer) => factorsOf![layer];

        internal void Decide(IReadOnlyList<RecordedLayer> layers, Tensor[] signals, Func<Tensor?, bool> adapted, long outputs) =>
            factorsOf ??= layers.Select((layer, i) => UsesFactors(layer, signals[i], adapted, count, outputs, outputPairs, factoring)).ToArray();
    }

    /// <summary>
    /// One input set's factored layers and the other layers' per-example gradients [C, N, P_explicit] (in the network's
    /// precision, multiplied in float64), detached from every scope (a posterior may keep them for its lifetime), with the plan
    /// that split the layers.
    /// </summary>
    public sealed class Parts(List<FactoredLayerKernel.Factors> factored, Tensor explicitRows, Plan plan) : IDisposable
    {
        public Plan Plan => plan;
        public long Bytes => explicitRows.numel() * explicitRows.ElementSize + factored.Sum(f => f.Bytes);

        private List<FactoredLayerKernel.Factors> Factored => factored;
        private Tensor ExplicitRows => explicitRows;
        public long ExplicitWidth => explicitRows.shape[2];

        /// <summary>K_c(this, other) as [C, N1, N2].</summary>
        internal Tensor Blocks(Parts other)
        {
            Tensor blocks = ReferenceEquals(this, other)
                ? OwnProduct(rows => zeros(rows.Outputs, rows.Count, rows.Count, dtype: ScalarType.Float64, device: explicitRows.device), FactoredLayerKernel.AddBlocks)
                : explicitRows.to(ScalarType.Float64).matmul(other.ExplicitRows.to(ScalarType.Float64).transpose(1, 2));
            for (int i = 0; i < factored.Count; i++) FactoredLayerKernel.AddBlocks(blocks, factored[i], other.Factored[i]);
            return blocks;
        }

        /// <summary>K(this, other) as [N1·C, N2·C], row n·C + c.</summary>
        internal Tensor Full(Parts other)
        {
            Tensor kernel = ReferenceEquals(this, other)
                ? OwnProduct(rows => zeros(rows.Count * rows.Outputs, rows.Count * rows.Outputs, dtype: ScalarType.Float64, device: explicitRows.device),
                             FactoredLayerKernel.AddFull)
                : Rows(explicitRows).mm(Rows(other.ExplicitRows).t());
            for (int i = 0; i < factored.Count; i++) FactoredLayerKernel.AddFull(kernel, factored[i], other.Factored[i]);
            return kernel;
        }

        /// <summary>
        /// G Gᵀ of the explicit gradients against themselves, as the factors of one position with a unit input gram
        /// (k = δ · δ′): the factored kernel's chunks then form only the triangle on and below the diagonal and mirror it.
        /// </summary>
        private Tensor OwnProduct(Func<FactoredLayerKernel.Factors, Tensor> empty, Action<Tensor, FactoredLayerKernel.Factors, FactoredLayerKernel.Factors> add)
        {
            using var scope = NewDisposeScope();
            var rows = new FactoredLayerKernel.Factors(Inputs: null, explicitRows.to(ScalarType.Float64).unsqueeze(2), Bias: true);
            Tensor product = empty(rows);
            add(product, rows, rows);
            return scope.MoveToOuter(product);
        }

        public void Dispose()
        {
            explicitRows.Dispose();
            foreach (var layer in factored)
            {
                layer.Inputs?.Dispose();
                layer.Signals.Dispose();
            }
        }

        private static Tensor Rows(Tensor byOutput) => byOutput.to(ScalarType.Float64).transpose(0, 1).flatten(0, 1);   // [N·C, P_explicit], row n·C + c
    }

    /// <summary>The parts of the inputs [offset, offset + count) of <paramref name="x"/>, detached from every scope; null when parameters are shared.</summary>
    private static Parts? Collect(NetworkFunction head, PreparedInputs x, long offset, long count, int outputs, int batchSize, Plan plan)
    {
        var detached = new List<Tensor>();                                                    // freed here if anything throws
        try
        {
            return CollectInto(head, x, offset, count, outputs, batchSize, plan, detached);
        }
        catch
        {
            foreach (var t in detached) t.Dispose();
            throw;
        }
    }

    private static Parts? CollectInto(NetworkFunction head, PreparedInputs x, long offset, long count, int outputs, int batchSize, Plan plan,
                                      List<Tensor> detached)
    {
        bool shared = false;
        var adapted = LayerSignals.IsAdapted(head.Parameters);
        var factoredInputs = new List<List<Tensor?>>();                                       // [factored layer][batch]
        var factoredSignals = new List<List<Tensor>[]>();                                     // [factored layer][output][batch]
        var forms = new List<KernelFactors>();                                                // [factored layer]: its first factors (bias, Expand)
        var explicitRows = Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray();   // [output][batch]
        foreach (var (start, length) in DataBatches.Of(count, batchSize))
        {
            LayerSignals.ForEachOutput(head, x.Batch(offset + start, length), (c, layers, signals) =>
            {
                if (c == 0 && start == 0)
                {
                    shared = SharesParameters(layers);
                    if (!shared) plan.Decide(layers, signals, adapted, outputs);
                }
                if (shared) return;
                int factored = 0;
                var gradients = new List<Tensor>();
                for (int i = 0; i < layers.Count; i++)
                {
                    var layer = layers[i];
                    if (plan.Factored(i))
                    {
                        var factors = layer.Rule.FactoredKernel(layer.Module, layer.Input, signals[i], adapted)!;
                        if (factoredInputs.Count == factored)
                        {
                            factoredInputs.Add(new List<Tensor?>());
                            factoredSignals.Add(Enumerable.Range(0, outputs).Select(_ => new List<Tensor>()).ToArray());
                            forms.Add(factors);
                        }
                        if (c == 0) factoredInputs[factored].Add(Detached(factors.Inputs?.contiguous(), detached));
                        factoredSignals[factored][c].Add(Detached(factors.Signals.contiguous(), detached)!);
                        factored++;
                    }
                    else
                    {
                        gradients.AddRange(layer.PerExampleGradients(signals[i], adapted)
                                                .Select(g => g.Gradient.reshape(length, -1)));
                    }
                }
                Tensor rows = gradients.Count == 0 ? zeros(length, 0, dtype: x.HeadInputs.dtype, device: x.HeadInputs.device) : cat(gradients.ToArray(), 1);
                explicitRows[c].Add(Detached(rows, detached)!);
            }).Dispose();
            if (shared) return null;
            if (start == 0) ExplicitKernel.CheckSize(count * outputs, explicitRows[0][0].shape[1]);   // the gradients still to come
        }
        var layersOut = factoredInputs.Select((inputs, i) => new FactoredLayerKernel.Factors(
            inputs[0] is null ? null : Concatenate(inputs.Select(t => t!).ToList()), Stack(factoredSignals[i].Select(Concatenate).ToList()),
            forms[i].Bias, forms[i].Expand)).ToList();
        return new Parts(layersOut, Stack(explicitRows.Select(Concatenate).ToList()), plan);
    }

    /// <summary>Whether a recorded layer contributes by its factors (see <see cref="Factoring"/>), judged from its first batch.</summary>
    private static bool UsesFactors(RecordedLayer layer, Tensor signal, Func<Tensor?, bool> adapted, long count, long outputs, long outputPairs,
                                    Factoring factoring)
    {
        using var scope = NewDisposeScope();
        if (layer.Rule.FactoredKernel(layer.Module, layer.Input, signal, adapted) is not { } factors) return false;
        Tensor? inputs = factors.Inputs is null ? null : factors.Expand?.Invoke(factors.Inputs) ?? factors.Inputs;
        return factoring == Factoring.Always ||
               FactoredLayerKernel.Pays(count, outputs, outputPairs, factors.Signals.shape[1], inputs?.shape[2] ?? 0, factors.Signals.shape[2]);
    }

    /// <summary>A tensor kept beyond its pass's scope, noted so that it is freed if the collection fails.</summary>
    private static Tensor? Detached(Tensor? t, List<Tensor> detached)
    {
        if (t is null) return null;
        t.DetachFromDisposeScope();
        detached.Add(t);
        return t;
    }

    /// <summary>Whether a module is recorded twice or two recorded modules hold the same parameter.</summary>
    private static bool SharesParameters(IReadOnlyList<RecordedLayer> layers)
    {
        var handles = new HashSet<IntPtr>();
        return layers.Select(l => l.Module).Distinct().Count() != layers.Count ||
               layers.SelectMany(l => l.Module.parameters()).Any(p => !handles.Add(p.Handle));
    }

    /// <summary>The batches' parts (detached from their passes' scopes) as one tensor, detached too; the parts are freed.</summary>
    private static Tensor Concatenate(IReadOnlyList<Tensor> parts) => Joined(parts, p => cat(p, 0));

    /// <summary>The outputs' tensors stacked along a new first dimension, detached; the parts are freed.</summary>
    private static Tensor Stack(IReadOnlyList<Tensor> parts) => Joined(parts, p => stack(p));

    private static Tensor Joined(IReadOnlyList<Tensor> parts, Func<Tensor[], Tensor> join)
    {
        Tensor whole = join(parts.ToArray());
        whole.DetachFromDisposeScope();
        foreach (var part in parts) part.Dispose();
        return whole;
    }
}
