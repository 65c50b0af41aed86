using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>The latent posterior variance at new inputs, in float64 (before clamping).</summary>
internal interface IPosteriorVariance
{
    /// <summary>Each output's variance, [B, C].</summary>
    Tensor Latent(TestInputs inputs);

    /// <summary>The full C×C covariance of each input's outputs, [B, C, C].</summary>
    Tensor Covariance(TestInputs inputs);

    /// <summary>Bytes of state the variance keeps.</summary>
    long Bytes { get; }

    /// <summary>The byte that names this form in a saved posterior (<see cref="PosteriorSerializer"/> reads it back by a table).</summary>
    byte SavedKind { get; }

    /// <summary>Writes what rebuilds this variance (its kind byte is written before it).</summary>
    void Write(BinaryWriter writer);

    /// <summary>
    /// Takes over what <paramref name="fitted"/>, the posterior of the fit this one was decoded from, already prepared for
    /// predictions, where this form can use it; by default nothing.
    /// </summary>
    void AdoptPrepared(IPosteriorVariance fitted)
    {
    }
}

/// <summary>
/// Function-space form: v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|², from the training inputs (as the adapted part of
/// the network sees them) and a root R of the inverse training system. For networks without a structured kernel the
/// projected training Jacobian W = Rᵀ J(X) ([N·C, P], float64) is built once, at the first prediction, while it fits
/// <see cref="InferenceSettings.PredictionMemoryBudget"/>: then v(x*) = s² |J(x*)|² − s⁴ |W J(x*)ᵀ|², one explicit Jacobian
/// of the test inputs and one product, whatever N; W is first cut to the directions along which the training data explain
/// more than a small fraction of the prior variance (<see cref="SpectralTruncation"/>: variances within 1e-3 of the exact ones,
/// relative, and never below them). Otherwise the cross kernel k0(X, x*) is computed per prediction: for
/// networks of known layers from the training inputs' layer parts, kept under the same budget (no pass over X). When
/// those do not fit either, a low-rank F with Fᵀ F ≈ Wᵀ W (<see cref="LowRankProjection"/>) takes W's place while at
/// least <see cref="InferenceSettings.LowRankFirstBlock"/> rows of it fit the budget: variances larger than exact ones by
/// at most the stated fraction of the prior variance, at the cost of one Jacobian of the test inputs. Only then is the
/// cross kernel formed a batch of training inputs at a time, per prediction.
/// </summary>
internal sealed class KernelSpaceVariance : IPosteriorVariance
{
    private readonly LinearizedNetwork network;
    private readonly double priorVariance;
    private readonly bool independentOutputs;
    private readonly Lazy<Tensor?> projected;
    private readonly Lazy<Tensor?> trainingRows;
    private readonly Lazy<LayerKernel.Parts?> kernelParts;
    private readonly Lazy<LowRankProjection?> lowRank;

    // The bytes of prediction state the posterior may keep: InferenceSettings.PredictionMemoryBudget, smaller in tests.
    private readonly long budget;

    // How far above the exact variances the cut projection may lie (InferenceSettings.PredictionVarianceTolerance; 0: exact).
    private readonly double varianceTolerance;

    public KernelSpaceVariance(LinearizedNetwork network, PreparedInputs training, KernelInverseRoot root, double priorVariance,
                               bool independentOutputs = false, long budget = InferenceSettings.PredictionMemoryBudget,
                               double varianceTolerance = InferenceSettings.PredictionVarianceTolerance)
    {
        this.budget = budget;
        this.varianceTolerance = varianceTolerance;
        this.network = network;
        Training = training;
        Root = root;
        this.priorVariance = priorVariance;
        this.independentOutputs = independentOutputs;
        projected = new Lazy<Tensor?>(Project, LazyThreadSafetyMode.ExecutionAndPublication);
        trainingRows = new Lazy<Tensor?>(KeepTrainingRows, LazyThreadSafetyMode.ExecutionAndPublication);
        kernelParts = new Lazy<LayerKernel.Parts?>(
            () => UsesProjection || KeepsTrainingRows ? null : network.KeepKernelParts(Training, independentOutputs, budget),
            LazyThreadSafetyMode.ExecutionAndPublication);
        lowRank = new Lazy<LowRankProjection?>(BuildLowRank, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public bool IndependentOutputs => independentOutputs;

    /// <summary>The low-rank projection predictions use, once built at the first prediction, or null (see the class summary).</summary>
    public LowRankProjection? LowRank => lowRank.Value;
    public PreparedInputs Training { get; }
    public KernelInverseRoot Root { get; }

    /// <summary>Rows of the projection predictions use (W's N·C, fewer once cut), built at the first call; 0 when there is none.</summary>
    public long ProjectionRows => projected.Value?.shape[0] ?? 0;

    /// <summary>Whether predictions use the projected training Jacobian (see the class summary).</summary>
    public bool UsesProjection =>
        !independentOutputs && !network.HasStructuredKernel(Training) &&
        StrategyChoice.ProjectionFits(Root.LowerCholesky.shape[0], network.Parameters.Count, budget);

    /// <summary>
    /// With independent outputs the projection does not apply (the masked kernel is not J Jᵀ); the training Jacobian J(X)
    /// [N·C, P] is kept instead, under the same budget, so that the cross kernel costs one product with the test rows.
    /// </summary>
    public bool KeepsTrainingRows =>
        independentOutputs && !network.HasStructuredKernel(Training) &&
        StrategyChoice.ProjectionFits(Root.LowerCholesky.shape[0], network.Parameters.Count, budget);

    public Tensor Latent(TestInputs inputs)
    {
        if (KernelsFromTrainingRows(inputs) is { } kept)
        {
            Tensor explainedRows = Root.ApplyTransposed(kept.Cross.t()).Squared().sum(dim: 0);
            Tensor own = kept.Own.diagonal(0, 1, 2);
            return own.Times(priorVariance) - explainedRows.reshape(own.shape).Times(priorVariance * priorVariance);
        }
        if ((projected.Value ?? lowRank.Value?.Factor) is { } w)
        {
            Tensor rows = inputs.JacobianRows;                                              // J(x*): [B·C, P]
            Tensor prior = rows.Squared().sum(dim: 1).reshape(inputs.Count, -1);
            Tensor explainedRows = w.matmul(rows.t()).Squared().sum(dim: 0).reshape(prior.shape);
            return prior.Times(priorVariance) - explainedRows.Times(priorVariance * priorVariance);
        }
        var (cross, diagonal) = CrossKernelAndDiagonal(inputs.Prepared);                         // k0(x*, X): [B·C, N·C]; k0(x*, x*): [B, C]
        Tensor explained = Root.ApplyTransposed(cross.t()).Squared().sum(dim: 0);        // |Rᵀ k0(X, x*)|²: [B·C]
        return diagonal.Times(priorVariance) - explained.reshape(diagonal.shape).Times(priorVariance * priorVariance);
    }

    private (Tensor Cross, Tensor Diagonal) CrossKernelAndDiagonal(PreparedInputs inputs)
    {
        var (cross, diagonal) = network.CrossKernelAndDiagonal(inputs, Training, blocksOnly: independentOutputs, kernelParts.Value);
        return (independentOutputs ? OutputCoupling.Independent(cross, cross.shape[1] / Training.Count) : cross, diagonal);
    }

    /// <summary>The full C×C latent covariance of each input, [B, C, C]: s² K0(x*, x*) blocks − s⁴ Vᵀ V, V = Rᵀ k0(X, x*).</summary>
    public Tensor Covariance(TestInputs test)
    {
        long b = test.Count;
        var inputs = test.Prepared;
        if (KernelsFromTrainingRows(test) is { } kept) return FromCrossKernel(Root, kept.Cross.t(), kept.Own, priorVariance);
        Tensor v, own;
        if ((projected.Value ?? lowRank.Value?.Factor) is { } w)
        {
            Tensor rows = test.JacobianRows;
            Tensor perInput = rows.reshape(b, -1, rows.shape[1]);                           // [B, C, P]
            own = perInput.matmul(perInput.transpose(1, 2));
            v = w.matmul(rows.t()).reshape(-1, b, perInput.shape[1]).permute(1, 2, 0);      // [B, C, m]
        }
        else
        {
            Tensor cross = CrossKernel(inputs);                                             // [B·C, N·C]
            long c = cross.shape[0] / b;
            Tensor kernel = network.Kernel(inputs, inputs);
            if (independentOutputs) kernel = OutputCoupling.Independent(kernel, c);
            own = kernel.reshape(b, c, b, c).diagonal(0, 0, 2).permute(2, 0, 1);            // [B, C, C]
            return FromCrossKernel(Root, cross.t(), own, priorVariance);
        }
        return own.Times(priorVariance) - v.matmul(v.transpose(1, 2)).Times(priorVariance * priorVariance);
    }

    /// <summary>
    /// s² K0(x*, x*) blocks − s⁴ Vᵀ V with V = Rᵀ k0(X, x*): the latent covariance [B, C, C] of B inputs from their cross kernel
    /// to the training outputs, [N·C, B·C] (layout n·C + c), and their prior blocks K0(x*, x*), [B, C, C].
    /// </summary>
    public static Tensor FromCrossKernel(KernelInverseRoot root, Tensor cross, Tensor own, double priorVariance)
    {
        long b = own.shape[0], c = own.shape[1];
        Tensor v = root.ApplyTransposed(cross).reshape(-1, b, c).permute(1, 2, 0);          // [B, C, m]
        return own.Times(priorVariance) - v.matmul(v.transpose(1, 2)).Times(priorVariance * priorVariance);
    }

    public long Bytes => Root.Bytes + Training.HeadInputs.numel() * Training.HeadInputs.ElementSize +
                         (projected.IsValueCreated && projected.Value is { } w ? w.numel() * sizeof(double) : 0) +
                         (trainingRows.IsValueCreated && trainingRows.Value is { } rows ? rows.numel() * sizeof(double) : 0) +
                         (kernelParts.IsValueCreated && kernelParts.Value is { } parts ? parts.Bytes : 0) +
                         (lowRank.IsValueCreated && lowRank.Value is { } f ? f.Factor.numel() * sizeof(double) : 0);

    public const byte Kind = 1;

    public byte SavedKind => Kind;

    public void Write(BinaryWriter writer)
    {
        writer.Write(independentOutputs);
        TensorSerialization.Write(writer, Training.HeadInputs);
        writer.Write(Root.LeftFactor is not null);
        if (Root.LeftFactor is not null) TensorSerialization.Write(writer, Root.LeftFactor);
        TensorSerialization.WriteLowerTriangular(writer, Root.LowerCholesky);
    }

    public static IPosteriorVariance Read(BinaryReader reader, LinearizedNetwork network, double priorVariance, double noiseVariance)
    {
        bool independent = reader.ReadBoolean();
        Tensor inputs = TensorSerialization.ReadFinite(reader, "training inputs");
        Tensor? left = reader.ReadBoolean() ? TensorSerialization.ReadFinite(reader, "variance factor") : null;
        Tensor lower = TensorSerialization.ReadTriangular(reader, "Cholesky factor");
        var root = left is null ? KernelInverseRoot.FromCholesky(lower) : KernelInverseRoot.FromLaplace(left, lower);
        return new KernelSpaceVariance(network, network.AdoptPrepared(inputs), root, priorVariance, independent);
    }

    /// <summary>W = Rᵀ J(X), kept for the posterior's lifetime (<see cref="PredictionState"/>), or null when not used.</summary>
    // Row-major: LAPACK's triangular solve leaves it column-major, and every product with it would first copy it.
    private Tensor? Project() => PredictionState.Keep(UsesProjection, () =>
        SpectralTruncation.Apply(Root.ApplyTransposed(network.Jacobian(Training)).contiguous(), priorVariance, varianceTolerance).Factor);

    /// <summary>
    /// The low-rank projection, when the posterior is J Jᵀ-based (not independent outputs, no structured kernel) and keeps
    /// neither W, J(X) nor layer parts, and at least <see cref="InferenceSettings.LowRankFirstBlock"/> rows of F fit the budget.
    /// </summary>
    private LowRankProjection? BuildLowRank()
    {
        if (independentOutputs || UsesProjection || KeepsTrainingRows || network.HasStructuredKernel(Training) || kernelParts.Value is not null) return null;
        if (LowRankProjection.MaxRank(network.Parameters.Count, budget) < InferenceSettings.LowRankFirstBlock) return null;
        return LowRankProjection.Build(network, Training, Root, priorVariance, budget, seed: 0);
    }

    /// <summary>J(X), kept for the posterior's lifetime, or null when not kept.</summary>
    private Tensor? KeepTrainingRows() => PredictionState.Keep(KeepsTrainingRows, () => network.Jacobian(Training));

    /// <summary>With the training rows kept: the masked cross kernel [B·C, N·C] and the prior blocks [B, C, C] (diagonal), else null.</summary>
    private (Tensor Cross, Tensor Own)? KernelsFromTrainingRows(TestInputs test)
    {
        if (trainingRows.Value is not { } rows) return null;
        Tensor j = test.JacobianRows;                                                       // [B·C, P]
        long c = j.shape[0] / test.Count;
        Tensor cross = OutputCoupling.Independent(j.matmul(rows.t()), c);
        Tensor own = diag_embed(j.Squared().sum(dim: 1).reshape(test.Count, c));
        return (cross, own);
    }

    private Tensor CrossKernel(PreparedInputs inputs) => CrossKernelAndDiagonal(inputs).Cross;
}

/// <summary>
/// Weight-space form: with Q [P, m] an orthonormal Lanczos basis of JᵀJ and T = Qᵀ JᵀJ Q, the posterior covariance of
/// the adapted parameters is Σ ≈ s² (I − Q Qᵀ) + s² σ² Q (s² T + σ² I)⁻¹ Qᵀ (exact within the Krylov space, the prior
/// outside it), so v(x*) = s² k0(x*, x*) − s² |w|² + s² σ² |L_T⁻¹ w|² with w = Qᵀ J(x*)ᵀ (from the Jacobian rows of x*).
/// </summary>
internal sealed class WeightSpaceVariance(LinearizedNetwork network, Tensor basis, Tensor lowerCholesky, double priorVariance, double noiseVariance)
    : IPosteriorVariance
{

    public Tensor Latent(TestInputs inputs)
    {
        if (RowsFit(inputs)) return Covariance(inputs).diagonal(0, 1, 2);
        var (w, b, c) = ByTangents(inputs);
        Tensor whitened = linalg.solve_triangular(lowerCholesky, w, upper: false);
        Tensor correction = whitened.Squared().sum(dim: 0).Times(noiseVariance) - w.Squared().sum(dim: 0);
        return network.KernelDiagonal(inputs.Prepared).Plus(correction.reshape(b, c)).Times(priorVariance);
    }

    /// <summary>
    /// s² (J* J*ᵀ − Wᵀ W + σ² (L_T⁻¹ W)ᵀ (L_T⁻¹ W)) per input, W = Qᵀ J(x*)ᵀ: from the Jacobian rows of x* while they fit
    /// the prediction budget, else from m tangent passes (W = J(x*) Q) and the explicit kernel of x*.
    /// </summary>
    public Tensor Covariance(TestInputs inputs)
    {
        long b = inputs.Count, m = basis.shape[1], c;
        Tensor w, own;
        if (RowsFit(inputs))
        {
            Tensor rows = inputs.JacobianRows;                                              // [B·C, P]
            w = basis.t().to(ScalarType.Float64).matmul(rows.t());                          // [m, B·C]
            Tensor perInput = rows.reshape(b, -1, rows.shape[1]);
            own = perInput.matmul(perInput.transpose(1, 2));
            c = perInput.shape[1];
        }
        else
        {
            (w, b, c) = ByTangents(inputs);
            own = network.Kernel(inputs.Prepared, inputs.Prepared).reshape(b, c, b, c).diagonal(0, 0, 2).permute(2, 0, 1);
        }
        Tensor whitened = linalg.solve_triangular(lowerCholesky, w, upper: false);
        Tensor v = w.reshape(m, b, c).permute(1, 2, 0), u = whitened.reshape(m, b, c).permute(1, 2, 0);   // [B, C, m]
        return (own - v.matmul(v.transpose(1, 2))).Plus(u.matmul(u.transpose(1, 2)).Times(noiseVariance)).Times(priorVariance);
    }

    /// <summary>Whether the Jacobian rows of these inputs fit the prediction budget.</summary>
    private bool RowsFit(TestInputs inputs) => StrategyChoice.ProjectionFits(inputs.Count * inputs.Output.shape[1], network.Parameters.Count);

    /// <summary>W = J(x*) Q by m tangent passes, [m, B·C], with B and C.</summary>
    private (Tensor W, long B, long C) ByTangents(TestInputs inputs)
    {
        Tensor moved = network.Jvp(inputs.Prepared, basis.t().contiguous()).to(ScalarType.Float64);   // [m, B, C]
        return (moved.reshape(moved.shape[0], -1), moved.shape[1], moved.shape[2]);
    }

    public long Bytes => basis.numel() * basis.ElementSize + lowerCholesky.numel() * sizeof(double);

    public const byte Kind = 2;

    public byte SavedKind => Kind;

    public void Write(BinaryWriter writer)
    {
        TensorSerialization.Write(writer, basis);
        TensorSerialization.WriteLowerTriangular(writer, lowerCholesky);
    }

    public static IPosteriorVariance Read(BinaryReader reader, LinearizedNetwork network, double priorVariance, double noiseVariance)
    {
        Tensor basis = TensorSerialization.ReadFinite(reader, "Lanczos basis").to(network.Parameters.DType);
        Tensor lower = TensorSerialization.ReadTriangular(reader, "Cholesky factor");
        return new WeightSpaceVariance(network, basis, lower, priorVariance, noiseVariance);
    }
}
