using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>The latent posterior variance of each output at new inputs, [B, C] in float64 (before clamping).</summary>
internal interface IPosteriorVariance
{
    Tensor Latent(PreparedInputs inputs);

    /// <summary>Bytes of state the variance keeps.</summary>
    long Bytes { get; }
}

/// <summary>
/// Function-space form: v(x*) = s² k0(x*, x*) − s⁴ |Rᵀ k0(X, x*)|², from the training inputs (as the adapted part of
/// the network sees them) and a root R of the inverse training system. For networks without a structured kernel the
/// projected training Jacobian W = Rᵀ J(X) ([N·C, P], float64) is built once, at the first prediction, while it fits
/// <see cref="StrategyChoice.PredictionMemoryBudget"/>: then v(x*) = s² |J(x*)|² − s⁴ |W J(x*)ᵀ|², one explicit Jacobian
/// of the test inputs and one product, whatever N. Otherwise the cross kernel k0(X, x*) is computed per prediction.
/// </summary>
internal sealed class KernelSpaceVariance : IPosteriorVariance
{
    private readonly LinearizedNetwork network;
    private readonly double priorVariance;
    private readonly bool independentOutputs;
    private readonly Lazy<Tensor?> projected;

    public KernelSpaceVariance(LinearizedNetwork network, PreparedInputs training, KernelInverseRoot root, double priorVariance,
                               bool independentOutputs = false)
    {
        this.network = network;
        Training = training;
        Root = root;
        this.priorVariance = priorVariance;
        this.independentOutputs = independentOutputs;
        projected = new Lazy<Tensor?>(Project, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public bool IndependentOutputs => independentOutputs;
    public PreparedInputs Training { get; }
    public KernelInverseRoot Root { get; }

    /// <summary>Whether predictions use the projected training Jacobian (see the class summary).</summary>
    public bool UsesProjection =>
        !independentOutputs && !network.HasStructuredKernel(Training) &&
        StrategyChoice.ProjectionFits(Root.LowerCholesky.shape[0], network.Parameters.Count);

    public Tensor Latent(PreparedInputs inputs)
    {
        if (projected.Value is { } w)
        {
            Tensor rows = network.Jacobian(inputs).to(ScalarType.Float64);                  // J(x*): [B·C, P]
            Tensor prior = rows.square().sum(dim: 1).reshape(inputs.Count, -1);
            Tensor explainedRows = w.matmul(rows.t()).square().sum(dim: 0).reshape(prior.shape);
            return priorVariance * prior - priorVariance * priorVariance * explainedRows;
        }
        var (cross, diagonal) = CrossKernelAndDiagonal(inputs);                         // k0(x*, X): [B·C, N·C]; k0(x*, x*): [B, C]
        Tensor explained = Root.ApplyTransposed(cross.t()).square().sum(dim: 0);        // |Rᵀ k0(X, x*)|²: [B·C]
        return priorVariance * diagonal - priorVariance * priorVariance * explained.reshape(diagonal.shape);
    }

    /// <summary>
    /// The cross kernel and the prior diagonal. For networks without a structured kernel both come from one explicit
    /// Jacobian of the test inputs (its rows' squared norms are the diagonal), which halves the backward passes per prediction.
    /// </summary>
    private (Tensor Cross, Tensor Diagonal) CrossKernelAndDiagonal(PreparedInputs inputs)
    {
        if (network.HasStructuredKernel(inputs)) return (CrossKernel(inputs), network.KernelDiagonal(inputs));
        var (rows, cross) = network.JacobianAgainst(inputs, Training);
        Tensor diagonal = rows.to(ScalarType.Float64).square().sum(dim: 1).reshape(inputs.Count, -1);
        return (independentOutputs ? OutputCoupling.Independent(cross, cross.shape[1] / Training.Count) : cross, diagonal);
    }

    /// <summary>The full C×C latent covariance of each input, [B, C, C]: s² K0(x*, x*) blocks − s⁴ Vᵀ V, V = Rᵀ k0(X, x*).</summary>
    public Tensor Covariance(PreparedInputs inputs)
    {
        long b = inputs.Count;
        Tensor v, own;
        if (projected.Value is { } w)
        {
            Tensor rows = network.Jacobian(inputs).to(ScalarType.Float64);
            Tensor perInput = rows.reshape(b, -1, rows.shape[1]);                           // [B, C, P]
            own = perInput.matmul(perInput.transpose(1, 2));
            v = w.matmul(rows.t()).reshape(-1, b, perInput.shape[1]).permute(1, 2, 0);      // [B, C, m]
        }
        else
        {
            Tensor cross = CrossKernel(inputs);                                             // [B·C, N·C]
            long c = cross.shape[0] / b;
            v = Root.ApplyTransposed(cross.t()).reshape(-1, b, c).permute(1, 2, 0);
            Tensor kernel = network.Kernel(inputs, inputs);
            if (independentOutputs) kernel = OutputCoupling.Independent(kernel, c);
            own = kernel.reshape(b, c, b, c).diagonal(0, 0, 2).permute(2, 0, 1);            // [B, C, C]
        }
        return priorVariance * own - priorVariance * priorVariance * v.matmul(v.transpose(1, 2));
    }

    public long Bytes => Root.Bytes + Training.HeadInputs.numel() * Training.HeadInputs.ElementSize +
                         (projected.IsValueCreated && projected.Value is { } w ? w.numel() * sizeof(double) : 0);

    /// <summary>W = Rᵀ J(X), outside every dispose scope (it lives as long as this posterior), or null when not used.</summary>
    private Tensor? Project()
    {
        if (!UsesProjection) return null;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor w = Root.ApplyTransposed(network.Jacobian(Training));
        w.DetachFromDisposeScope();
        return w;
    }

    private Tensor CrossKernel(PreparedInputs inputs)
    {
        Tensor cross = network.Kernel(inputs, Training);
        return independentOutputs ? OutputCoupling.Independent(cross, cross.shape[1] / Training.Count) : cross;
    }
}

/// <summary>
/// Weight-space form: with Q [P, m] an orthonormal Lanczos basis of JᵀJ and T = Qᵀ JᵀJ Q, the posterior covariance of
/// the adapted parameters is Σ ≈ s² (I − Q Qᵀ) + s² σ² Q (s² T + σ² I)⁻¹ Qᵀ (exact within the Krylov space, the prior
/// outside it), so v(x*) = s² k0(x*, x*) − s² |w|² + s² σ² |L_T⁻¹ w|² with w = Qᵀ J(x*)ᵀ (m tangents per test batch).
/// </summary>
internal sealed class WeightSpaceVariance(LinearizedNetwork network, Tensor basis, Tensor lowerCholesky, double priorVariance, double noiseVariance)
    : IPosteriorVariance
{
    public Tensor Basis => basis;
    public Tensor LowerCholesky => lowerCholesky;

    public Tensor Latent(PreparedInputs inputs)
    {
        Tensor w = network.Jvp(inputs, basis.t().contiguous()).to(ScalarType.Float64);   // [m, B, C]
        long m = w.shape[0];
        Tensor flat = w.reshape(m, -1);
        Tensor whitened = linalg.solve_triangular(lowerCholesky, flat, upper: false);
        Tensor prior = network.KernelDiagonal(inputs);
        Tensor correction = -flat.square().sum(dim: 0) + noiseVariance * whitened.square().sum(dim: 0);
        return priorVariance * (prior + correction.reshape(prior.shape));
    }

    public long Bytes => basis.numel() * basis.ElementSize + lowerCholesky.numel() * sizeof(double);
}
