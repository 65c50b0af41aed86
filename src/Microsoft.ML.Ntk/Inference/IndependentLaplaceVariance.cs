using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The latent covariance of the softmax Laplace posterior with independent outputs, from the per-class factors at the mode
/// (the predictive covariance of Rasmussen and Williams' Algorithm 3.4) and never from an N·C × N·C system. With
/// k_c = k0_c(X, x*) [N], B_c = I + s² D_c^½ K0_c D_c^½ = L_c L_cᵀ, E_c = D_c^½ B_c⁻¹ D_c^½ and M Mᵀ = Σ_c E_c:
/// (s² K0 + Λ⁻¹)⁻¹ = E − E R (M Mᵀ)⁻¹ Rᵀ E, so with u_c = L_c⁻¹ D_c^½ k_c and z_c = M⁻¹ E_c k_c
/// Σ*_cc' = δ_cc' (s² k0_c(x*, x*) − s⁴ |u_c|²) + s⁴ z_cᵀ z_c'.
/// The training Jacobian arranged by output ([C, N, P], float64) is kept while it fits
/// <see cref="InferenceSettings.PredictionMemoryBudget"/>: the fit's own, which formed it for the kernel (a model decoded
/// from that fit's state takes it over, <see cref="AdoptPrepared"/>), else built once at the first prediction; then k_c
/// costs one explicit Jacobian of x* and one product.
/// Otherwise (and for heads with a structured kernel) the cross kernel is computed per prediction, for networks of known
/// layers from the training inputs' layer parts kept under the same budget (no pass over X) when they fit.
/// </summary>
internal sealed class IndependentLaplaceVariance : IPosteriorVariance
{
    private readonly LinearizedNetwork network;
    private readonly double priorVariance;
    private readonly Lazy<Tensor?> trainingRows;
    private readonly Lazy<LayerKernel.Parts?> kernelParts;

    /// <param name="network">The linearized network.</param>
    /// <param name="training">The training inputs as the adapted part of the network sees them.</param>
    /// <param name="lower">L_c, [C, N, N].</param>
    /// <param name="rootD">D_c^½ = sqrt(p̂_c(x_n)), [C, N].</param>
    /// <param name="coupling">M, [N, N] lower triangular.</param>
    /// <param name="priorVariance">s².</param>
    /// <param name="trainingRows">
    /// The training Jacobian by output [C, N, P] the fit already formed, or null: kept (detached from the fit's dispose
    /// scope) when predictions use it, instead of being formed again at the first prediction.
    /// </param>
    public IndependentLaplaceVariance(LinearizedNetwork network, PreparedInputs training, Tensor lower, Tensor rootD, Tensor coupling,
                                      double priorVariance, Tensor? trainingRows = null)
    {
        this.network = network;
        Training = training;
        Lower = lower;
        RootD = rootD;
        Coupling = coupling;
        this.priorVariance = priorVariance;
        if (trainingRows is not null && KeepsTrainingRows && Matches(trainingRows)) adopted = trainingRows.DetachFromDisposeScope();
        this.trainingRows = new Lazy<Tensor?>(ArrangeTrainingRows, LazyThreadSafetyMode.ExecutionAndPublication);
        kernelParts = new Lazy<LayerKernel.Parts?>(
            () => KeepsTrainingRows ? null : network.KeepKernelParts(Training, blocksOnly: true, InferenceSettings.PredictionMemoryBudget),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public PreparedInputs Training { get; }
    public Tensor Lower { get; }
    public Tensor RootD { get; }
    public Tensor Coupling { get; }

    private long Classes => RootD.shape[0];

    /// <summary>Whether predictions use the training Jacobian kept by output (see the class summary).</summary>
    public bool KeepsTrainingRows => StrategyChoice.KeepsJacobianByOutput(network, Training, Training.Count * Classes);

    public Tensor Latent(TestInputs inputs) => Covariance(inputs).diagonal(0, 1, 2);

    public Tensor Covariance(TestInputs inputs)
    {
        var (cross, prior) = CrossByClass(inputs);                                               // [C, N, B], [B, C]
        return FromCrossKernel(Lower, RootD, Coupling, cross, prior, priorVariance);
    }

    /// <summary>
    /// The latent covariance [B, C, C] of B inputs from the factors at the mode, their cross kernel by class k0_c(X, x*)
    /// [C, N, B] and their prior variances k0_c(x*, x*) [B, C] (the formula of the class summary).
    /// </summary>
    public static Tensor FromCrossKernel(Tensor lower, Tensor rootD, Tensor coupling, Tensor cross, Tensor prior, double priorVariance)
    {
        long b = cross.shape[2], c = cross.shape[0], n = cross.shape[1];
        Tensor u = linalg.solve_triangular(lower, rootD.unsqueeze(2) * cross, upper: false);     // L_c⁻¹ D_c^½ k_c
        Tensor e = rootD.unsqueeze(2) * linalg.solve_triangular(lower.transpose(1, 2), u, upper: true);   // E_c k_c
        Tensor z = linalg.solve_triangular(coupling, e.permute(1, 0, 2).reshape(n, c * b), upper: false)
                         .reshape(n, c, b).permute(2, 1, 0);                                     // z_c: [B, C, N]
        Tensor own = prior.Times(priorVariance) - u.Squared().sum(dim: 1).t().Times(priorVariance * priorVariance);
        return diag_embed(own).Plus(z.matmul(z.transpose(1, 2)).Times(priorVariance * priorVariance));
    }

    public long Bytes => (Lower.numel() + RootD.numel() + Coupling.numel()) * sizeof(double) +
                         Training.HeadInputs.numel() * Training.HeadInputs.ElementSize +
                         (Held is { } rows ? rows.numel() * sizeof(double) : 0) +
                         (kernelParts.IsValueCreated && kernelParts.Value is { } parts ? parts.Bytes : 0);

    public const byte Kind = 3;

    public byte SavedKind => Kind;

    public void Write(BinaryWriter writer)
    {
        TensorSerialization.Write(writer, Training.HeadInputs);
        TensorSerialization.WriteLowerTriangular(writer, Lower);
        TensorSerialization.Write(writer, RootD);
        TensorSerialization.WriteLowerTriangular(writer, Coupling);
    }

    public static IPosteriorVariance Read(BinaryReader reader, LinearizedNetwork network, double priorVariance, double noiseVariance)
    {
        Tensor inputs = TensorSerialization.ReadFinite(reader, "training inputs");
        Tensor lower = TensorSerialization.ReadTriangular(reader, "class Cholesky factors", dims: 3);
        Tensor rootD = TensorSerialization.ReadFinite(reader, "probability roots");
        Tensor coupling = TensorSerialization.ReadTriangular(reader, "coupling Cholesky factor");
        long n = inputs.shape[0];
        if (lower.shape[1] != n || rootD.dim() != 2 || rootD.shape[0] != lower.shape[0] || rootD.shape[1] != n || coupling.shape[0] != n)
            throw new InvalidDataException($"The saved posterior is damaged: factors of shapes [{string.Join(", ", lower.shape)}], " +
                                           $"[{string.Join(", ", rootD.shape)}] and [{string.Join(", ", coupling.shape)}] do not match {n} training inputs.");
        return new IndependentLaplaceVariance(network, network.AdoptPrepared(inputs), lower, rootD, coupling, priorVariance);
    }

    /// <summary>k_c = k0_c(X, x*) for each class, [C, N, B], and the prior diagonal k0_c(x*, x*), [B, C].</summary>
    private (Tensor Cross, Tensor Prior) CrossByClass(TestInputs inputs)
    {
        long b = inputs.Count;
        if (trainingRows.Value is { } rows)
        {
            Tensor test = inputs.JacobianRows.reshape(b, Classes, -1);                          // [B, C, P]
            Tensor prior = test.Squared().sum(dim: 2);
            return (rows.bmm(test.permute(1, 2, 0)), prior);
        }
        var (cross, diagonal) = network.CrossKernelAndDiagonal(inputs.Prepared, Training, blocksOnly: true, kernelParts.Value);   // [B·C, N·C]
        Tensor byClass = cross.reshape(b, Classes, Training.Count, Classes).diagonal(0, 1, 3);   // [B, N, C]
        return (byClass.permute(2, 1, 0), diagonal);
    }

    /// <summary>
    /// The training Jacobian by output, kept for the posterior's lifetime (<see cref="PredictionState"/>), or null: the one
    /// formed elsewhere (by the fit, or handed over by the fit's posterior, <see cref="AdoptPrepared"/>), else formed here.
    /// </summary>
    private Tensor? ArrangeTrainingRows() => adopted ?? PredictionState.Keep(KeepsTrainingRows, () => network.JacobianByOutput(Training));

    /// <summary>The training Jacobian by output predictions use (formed or taken over at the first call), or null.</summary>
    internal Tensor? TrainingRowsByOutput => trainingRows.Value;

    /// <summary>Whether the training Jacobian by output predictions use has been formed or taken over (without forming it).</summary>
    internal bool HasFormedTrainingRows => trainingRows.IsValueCreated;

    /// <summary>The training Jacobian by output formed elsewhere (the fit's, or the one taken over from it), which predictions then use.</summary>
    private Tensor? adopted;

    /// <summary>The training Jacobian by output this posterior holds, in use or not, without forming it.</summary>
    private Tensor? Held => trainingRows.IsValueCreated ? trainingRows.Value : adopted;

    /// <summary>
    /// Takes over the training Jacobian by output that <paramref name="fitted"/> (the posterior of the fit this one was
    /// decoded from) holds, if it holds one of this posterior's shape and this one has not formed its own: the first
    /// prediction after a fit then skips forming it again (C backward passes over the training inputs). Only that tensor
    /// is taken; it is the same Jacobian, of the same network at the same inputs.
    /// </summary>
    public void AdoptPrepared(IPosteriorVariance fitted)
    {
        if (fitted is IndependentLaplaceVariance { Held: { } rows } && !trainingRows.IsValueCreated && KeepsTrainingRows && Matches(rows))
            adopted = rows;
    }

    /// <summary>Whether a Jacobian by output has this posterior's shape: [C, N, P].</summary>
    private bool Matches(Tensor rows) =>
        rows.dim() == 3 && rows.shape[0] == Classes && rows.shape[1] == Training.Count && rows.shape[2] == network.Parameters.Count &&
        rows.dtype == ScalarType.Float64;
}
