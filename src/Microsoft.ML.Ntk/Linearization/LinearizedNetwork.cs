using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The network as a linear model around its pretrained parameters θ0:
/// f_lin(x; θ) = f(x; θ0) + J(x)(θ − θ0). Gives f0, J·V, Jᵀ·U, kernel products K(X1, X2)·V with
/// K = J Jᵀ, Gauss–Newton products Jᵀ Λ J V, the kernel diagonal and explicit kernels, all batched over
/// the data so that peak memory does not grow with N. Tangents are rows: V is [k, P], U is [k, N, C].
/// The module must stay in evaluation mode and must not be changed while this object is in use: it sets
/// requires_grad on the adapted parameters and clears it on the others.
/// </summary>
internal sealed class LinearizedNetwork
{
    private readonly nn.IModule<Tensor, Tensor>? trunk;
    private readonly NetworkFunction head;

    public LinearizedNetwork(nn.Module network, ParameterSelection selection,
                             TangentMode mode = TangentMode.Auto, int batchSize = 256, long tapeBudgetBytes = LinearizationSettings.DefaultTapeBudgetBytes)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");
        NetworkFunction.AsCallable(network);
        NetworkFunction.EnsureEvaluationMode(network);
        Parameters = new AdaptedParameters(selection.Resolve(network));
        SetRequiresGrad(network, Parameters);
        (trunk, var headModule) = FrozenTrunk.Split(network, Parameters.Tensors);
        head = new NetworkFunction(headModule, Parameters);
        Products = ChooseProducts(mode, head);
        BatchSize = batchSize;
        TapeBudgetBytes = Products.UsesPrimalTape ? tapeBudgetBytes : 0;
    }

    public AdaptedParameters Parameters { get; }
    public IJacobianProducts Products { get; }
    public long TapeBudgetBytes { get; }
    public int BatchSize { get; }
    public bool HasFrozenTrunk => trunk is not null;

    /// <summary>
    /// Runs the frozen trunk (if any) once over X, batch by batch, without a graph. With <paramref name="keepTapes"/> false
    /// (inputs used for one pass, such as predictions) no primal tape is recorded.
    /// </summary>
    public PreparedInputs Prepare(Tensor inputs, bool keepTapes = true)
    {
        head.CheckInput(inputs);
        long budget = keepTapes ? TapeBudgetBytes : 0;
        if (trunk is null) return new PreparedInputs(this, inputs.alias(), inputs.shape[0], budget);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var parts = DataBatches.Of(inputs.shape[0], BatchSize)
            .Select(b => trunk.call(inputs.narrow(0, b.Start, b.Length))).ToArray();
        return new PreparedInputs(this, scope.MoveToOuter(cat(parts, 0)), inputs.shape[0], budget);
    }

    /// <summary>Inputs as the adapted part of the network sees them (kept from an earlier Prepare, e.g. in a saved model).</summary>
    public PreparedInputs AdoptPrepared(Tensor headInputs) =>
        new(this, headInputs.to(Parameters.DType).to(Parameters.Device), headInputs.shape[0], TapeBudgetBytes);

    /// <summary>f(X; θ0) as [N, C].</summary>
    public Tensor Output(PreparedInputs x)
    {
        CheckOwner(x);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var parts = DataBatches.Of(x.Count, BatchSize).Select(b => head.Forward(x.Batch(b.Start, b.Length))).ToArray();
        return scope.MoveToOuter(cat(parts, 0));
    }

    /// <summary>J(X)·V for V of shape [k, P]; returns [k, N, C].</summary>
    public Tensor Jvp(PreparedInputs x, Tensor tangents)
    {
        CheckOwner(x);
        CheckTangents(tangents);
        using var scope = NewDisposeScope();
        Tensor[] parts = Parameters.Split(tangents);
        var results = DataBatches.Of(x.Count, BatchSize).Select(b => BatchJvp(x, b.Start, b.Length, parts)).ToArray();
        return scope.MoveToOuter(cat(results, 1));
    }

    /// <summary>J(X)ᵀ·U for U of shape [k, N, C]; returns [k, P], accumulated over batches in float64.</summary>
    public Tensor Vjp(PreparedInputs x, Tensor cotangents)
    {
        CheckCotangents(x, cotangents);
        return SumOverBatches(x, (start, length) => BatchVjp(x, start, length, cotangents.narrow(1, start, length)), cotangents.shape[0]);
    }

    /// <summary>K(X1, X2)·V = J(X1) J(X2)ᵀ V for V of shape [k, N2, C]; returns [k, N1, C].</summary>
    public Tensor KernelProduct(PreparedInputs x1, PreparedInputs x2, Tensor v)
    {
        CheckOwner(x1);
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(Jvp(x1, Vjp(x2, v)));
    }

    /// <summary>Jᵀ Λ J·V for V of shape [k, P]; returns [k, P], accumulated over batches in float64.</summary>
    public Tensor GaussNewtonProduct(PreparedInputs x, Tensor tangents, OutputCurvature curvature)
    {
        CheckOwner(x);
        CheckTangents(tangents);
        Tensor[] parts = Parameters.Split(tangents);
        return SumOverBatches(x, (start, length) =>
            BatchVjp(x, start, length, curvature.Apply(BatchJvp(x, start, length, parts), start)), tangents.shape[0]);
    }

    /// <summary>Σ over batches of a [k, P] term, accumulated in float64 when there is more than one batch.</summary>
    private Tensor SumOverBatches(PreparedInputs x, Func<long, long, Tensor> term, long k)
    {
        using var scope = NewDisposeScope();
        var batches = DataBatches.Of(x.Count, BatchSize).ToList();
        if (batches.Count == 1) return scope.MoveToOuter(term(0, x.Count));
        Tensor sum = zeros(k, Parameters.Count, dtype: ScalarType.Float64, device: Parameters.Device);
        foreach (var (start, length) in batches)
        {
            using var batchScope = NewDisposeScope();
            sum.Accumulate(term(start, length).to(ScalarType.Float64));
        }
        return scope.MoveToOuter(sum.to(Parameters.DType));
    }

    /// <summary>
    /// J(X) as an explicit [N·C, P] matrix (row n·C + c is ∂f_c(x_n)/∂θ): batched per-example gradients for networks of
    /// known layers, one backward pass per input and output otherwise.
    /// </summary>
    public Tensor Jacobian(PreparedInputs x)
    {
        CheckOwner(x);
        if (!HasKnownLayers) return ReverseProducts.JacobianRows(head, x);
        var (output, rows) = PerExampleJacobian.OutputAndRows(head, x, BatchSize, OutputCount(x));
        output.Dispose();
        return rows;
    }

    /// <summary>
    /// J(X) a block of at most <paramref name="inputsPerBlock"/> inputs at a time, each block [b·C, P] formed as it is
    /// enumerated (the caller disposes it), with its first input: for products with J(X) that never hold it whole.
    /// </summary>
    public IEnumerable<(long Start, Tensor Rows)> JacobianBlocks(PreparedInputs x, int inputsPerBlock)
    {
        CheckOwner(x);
        foreach (var (start, length) in DataBatches.Of(x.Count, inputsPerBlock))
        {
            using var part = new PreparedInputs(this, x.HeadInputs.narrow(0, start, length), length, tapeBudgetBytes: 0);
            yield return (start, Jacobian(part));
        }
    }

    /// <summary>f(X) [N, C] and J(X) [N·C, P]; for networks of known layers from the same passes (one forward, C backward per batch).</summary>
    public (Tensor Output, Tensor Rows) OutputAndJacobian(PreparedInputs x)
    {
        CheckOwner(x);
        return HasKnownLayers ? PerExampleJacobian.OutputAndRows(head, x, BatchSize, OutputCount(x)) : (Output(x), ReverseProducts.JacobianRows(head, x));
    }

    /// <summary>Whether every module of the adapted part has a layer rule (forward-mode tangents, batched per-example gradients).</summary>
    public bool HasKnownLayers => TangentPropagation.FirstUnknown(head.Module) is null;

    /// <summary>The explicit kernel K(X1, X2) = J1 J2ᵀ as [N1·C, N2·C] in float64; structured when the head allows it.</summary>
    public Tensor Kernel(PreparedInputs x1, PreparedInputs x2)
    {
        CheckOwner(x1);
        CheckOwner(x2);
        return HasStructuredKernel(x1)
            ? StructuredKernel.Kernel(head.Module, Parameters, x1.HeadInputs, ReferenceEquals(x1, x2) ? x1.HeadInputs : x2.HeadInputs, BatchSize)
            : GenericKernel(x1, x2);
    }

    /// <summary>
    /// The C diagonal blocks of the explicit kernel, K0_c(X, X) = J_c J_cᵀ, as [C, N, N] in float64: what independent
    /// outputs need, at 1/C of the products of the whole kernel when J is formed. <paramref name="factoring"/> is for tests.
    /// </summary>
    public Tensor KernelBlocks(PreparedInputs x, Factoring factoring = Factoring.WhenItPays)
    {
        CheckOwner(x);
        using var scope = NewDisposeScope();
        if (HasStructuredKernel(x))
        {
            Tensor full = Kernel(x, x);
            long n = x.Count, c = full.shape[0] / n;
            return scope.MoveToOuter(full.reshape(n, c, n, c).diagonal(0, 1, 3).permute(2, 0, 1).contiguous());
        }
        if (HasKnownLayers && LayerKernel.Blocks(head, x, (int)OutputCount(x), BatchSize, factoring) is { } layered) return scope.MoveToOuter(layered);
        return scope.MoveToOuter(FactoredLayerKernel.OwnBlocks(JacobianByOutput(x)));
    }

    /// <summary>J(X) arranged by output, [C, N, P] in float64: block c holds the rows ∂f_c(x_n)/∂θ.</summary>
    public Tensor JacobianByOutput(PreparedInputs x)
    {
        CheckOwner(x);
        long outputs = OutputCount(x);
        ExplicitKernel.CheckSize(x.Count * outputs, Parameters.Count);
        using var scope = NewDisposeScope();
        if (HasKnownLayers)
        {
            var (output, rows) = PerExampleJacobian.OutputAndRowsByOutput(head, x, BatchSize, outputs);
            output.Dispose();
            return scope.MoveToOuter(rows.to(ScalarType.Float64));
        }
        Tensor j = ReverseProducts.JacobianRows(head, x).to(ScalarType.Float64);
        return scope.MoveToOuter(j.reshape(x.Count, outputs, j.shape[1]).transpose(0, 1).contiguous());
    }

    /// <summary>
    /// The cross kernel k0(x*, X) [B·C, N·C] and the prior diagonal k0(x*, x*) [B, C], in float64 (with
    /// <paramref name="blocksOnly"/> the cross kernel's entries between different outputs may be left zero; with
    /// <paramref name="kept"/> parts of X from <see cref="KeepKernelParts"/>, made with the same blocksOnly, no pass over X runs). Networks of known
    /// layers sum both layer by layer (<see cref="LayerKernel.Cross"/>); otherwise both come from one explicit Jacobian of the
    /// test inputs (its rows' squared norms are the diagonal), its rows pushed through the training inputs as tangents.
    /// </summary>
    public (Tensor Cross, Tensor Diagonal) CrossKernelAndDiagonal(PreparedInputs test, PreparedInputs training, bool blocksOnly = false,
                                                                  LayerKernel.Parts? kept = null)
    {
        if (HasStructuredKernel(test)) return (Kernel(test, training), KernelDiagonal(test));
        CheckOwner(test);
        CheckOwner(training);
        if (HasKnownLayers && LayerKernel.Cross(head, test, training, (int)OutputCount(test), BatchSize, blocksOnly, kept) is { } layered) return layered;
        using var scope = NewDisposeScope();
        var (rows, cross) = JacobianAgainst(test, training);
        Tensor diagonal = rows.to(ScalarType.Float64).Squared().sum(dim: 1).reshape(test.Count, -1);
        return (scope.MoveToOuter(cross), scope.MoveToOuter(diagonal));
    }

    /// <summary>
    /// The layer parts of the training inputs that cross kernels against them need (<see cref="LayerKernel.Keep"/>), when the
    /// network has known layers and no structured kernel and they fit <paramref name="budgetBytes"/>; else null.
    /// </summary>
    public LayerKernel.Parts? KeepKernelParts(PreparedInputs training, bool blocksOnly, long budgetBytes)
    {
        CheckOwner(training);
        return HasKnownLayers && !HasStructuredKernel(training)
            ? LayerKernel.Keep(head, training, (int)OutputCount(training), BatchSize, blocksOnly, budgetBytes)
            : null;
    }

    /// <summary>
    /// Whether the explicit kernel of these inputs is affordable by layer sums (<see cref="LayerKernel.Fits"/>): networks of
    /// known layers whose explicit part fits, however many parameters the factored layers hold. Found once per input set.
    /// </summary>
    public bool LayerKernelFits(PreparedInputs x)
    {
        CheckOwner(x);
        return x.LayerKernelFits ??= HasKnownLayers && LayerKernel.Fits(head, x, (int)OutputCount(x), BatchSize);
    }

    /// <summary>Whether explicit kernels and diagonals use the structure of a fully connected head (no Jacobian built).</summary>
    public bool HasStructuredKernel(PreparedInputs x) => StructuredKernel.Supports(head.Module, Parameters, x.HeadInputs.dim());

    /// <summary>
    /// K(X1, X2) for any network. J Jᵀ for one set; for two, the Jacobian of the smaller set only, whose rows are then pushed
    /// through the larger one as tangents (J_large · J_smallᵀ), in chunks: predicting a few rows against N training
    /// inputs costs a few Jacobian rows and tangent passes instead of N·C backward passes. <paramref name="factoring"/> is for tests.
    /// </summary>
    public Tensor GenericKernel(PreparedInputs x1, PreparedInputs x2, Factoring factoring = Factoring.WhenItPays)
    {
        using var scope = NewDisposeScope();
        if (ReferenceEquals(x1, x2) && HasKnownLayers && LayerKernel.Full(head, x1, (int)OutputCount(x1), BatchSize, factoring) is { } layered)
            return scope.MoveToOuter(layered);
        if (ReferenceEquals(x1, x2))
        {
            ExplicitKernel.CheckSize(x1.Count * OutputCount(x1), Parameters.Count);
            Tensor j = Jacobian(x1).to(ScalarType.Float64);
            return scope.MoveToOuter(j.matmul(j.t()));
        }
        bool firstSmaller = x1.Count <= x2.Count;
        var (few, many) = firstSmaller ? (x1, x2) : (x2, x1);
        Tensor kernel = HasKnownLayers && LayerKernel.Cross(head, few, many, (int)OutputCount(few), BatchSize, blocksOnly: false) is { } sums
            ? sums.Cross
            : JacobianAgainst(few, many).Kernel;
        return scope.MoveToOuter(firstSmaller ? kernel : kernel.t().contiguous());
    }

    /// <summary>
    /// The explicit Jacobian rows of <paramref name="few"/> ([n·C, P]) and the kernel K(few, many) = J_few J_manyᵀ
    /// ([n·C, N·C], float64), the rows pushed through <paramref name="many"/> as tangents. Predictions use both: the rows'
    /// squared norms are the prior variances.
    /// </summary>
    public (Tensor Rows, Tensor Kernel) JacobianAgainst(PreparedInputs few, PreparedInputs many)
    {
        CheckOwner(few);
        CheckOwner(many);
        ExplicitKernel.CheckSize(few.Count * OutputCount(few), Parameters.Count);
        using var scope = NewDisposeScope();
        Tensor rows = Jacobian(few);
        using var plain = many.WithoutTapes();                                             // the same rounding whatever ran before
        var chunks = DataBatches.Of(rows.shape[0], LinearizationSettings.TangentChunk)
            .Select(c => Jvp(plain, rows.narrow(0, c.Start, c.Length)).to(ScalarType.Float64).reshape(c.Length, -1)).ToArray();
        return (scope.MoveToOuter(rows), scope.MoveToOuter(cat(chunks, 0)));
    }

    private long OutputCount(PreparedInputs x)
    {
        using var noGrad = no_grad();
        using var output = head.Forward(x.Batch(0, 1));
        return output.shape[1];
    }

    /// <summary>The exact kernel diagonal k_cc(x_n, x_n) = |∂f_c(x_n)/∂θ|² as [N, C], in float64.</summary>
    public Tensor KernelDiagonal(PreparedInputs x)
    {
        CheckOwner(x);
        if (HasStructuredKernel(x)) return StructuredKernel.Diagonal(head.Module, Parameters, x.HeadInputs, BatchSize);
        return HasKnownLayers ? DiagonalBound.Exact(head, x, BatchSize) : ReverseProducts.SquaredRowNorms(head, x);
    }

    /// <summary>
    /// A cheap upper bound of the kernel diagonal, [N, C] in float64, for preconditioners: exact for fully
    /// connected heads, a layerwise bound for networks of known layers, the exact diagonal otherwise.
    /// </summary>
    public Tensor KernelDiagonalBound(PreparedInputs x)
    {
        CheckOwner(x);
        if (HasStructuredKernel(x)) return StructuredKernel.Diagonal(head.Module, Parameters, x.HeadInputs, BatchSize);
        return HasKnownLayers ? DiagonalBound.Compute(head, x, BatchSize) : ReverseProducts.SquaredRowNorms(head, x);
    }

    private Tensor BatchJvp(PreparedInputs x, long start, long length, Tensor[] parts)
    {
        PrimalTape? tape = x.TapeFor(start);
        Tensor result = Products.Jvp(x.Batch(start, length), parts, tape);
        x.Keep(start, tape);
        return result;
    }

    private Tensor BatchVjp(PreparedInputs x, long start, long length, Tensor cotangents)
    {
        PrimalTape? tape = x.TapeFor(start);
        Tensor result = Products.Vjp(x.Batch(start, length), cotangents, tape);
        x.Keep(start, tape);
        return result;
    }

    private void CheckOwner(PreparedInputs x)
    {
        if (!ReferenceEquals(x.Owner, this))
            throw new ArgumentException("These inputs were prepared by another linearization; call Prepare on this one.");
    }

    private void CheckCotangents(PreparedInputs x, Tensor cotangents)
    {
        CheckOwner(x);
        if (cotangents.dim() != 3 || cotangents.shape[1] != x.Count)
            throw new ArgumentException($"Cotangents must have shape [k, {x.Count}, C] (one row per tangent, then inputs and " +
                                        $"outputs); got {AutogradSession.Shape(cotangents)}.");
        if (cotangents.dtype != Parameters.DType)
            throw new ArgumentException($"Cotangents are {cotangents.dtype} but the parameters are {Parameters.DType}.");
    }

    private void CheckTangents(Tensor tangents)
    {
        if (tangents.dim() != 2 || tangents.shape[1] != Parameters.Count)
            throw new ArgumentException($"Tangents must have shape [k, {Parameters.Count}] (one row per tangent over the " +
                                        $"adapted parameters); got {AutogradSession.Shape(tangents)}.");
        if (tangents.dtype != Parameters.DType)
            throw new ArgumentException($"Tangents are {tangents.dtype} but the parameters are {Parameters.DType}.");
    }

    private static void SetRequiresGrad(nn.Module network, AdaptedParameters adapted)
    {
        var handles = adapted.Tensors.Select(t => t.Handle).ToHashSet();
        foreach (var (_, parameter) in network.named_parameters())
            parameter.requires_grad = handles.Contains(parameter.Handle);
    }

    private static IJacobianProducts ChooseProducts(TangentMode mode, NetworkFunction head) => mode switch
    {
        TangentMode.DoubleVjp => new DoubleVjpProducts(head),
        TangentMode.ForwardMode => KnownLayerProducts.Create(head)
            ?? throw new NotSupportedException("Forward-mode tangents need a network made of known layers only; this one has " +
                                               KnownLayerProducts.FirstUnknownModule(head.Module) + ". Use double-VJP."),
        _ => (IJacobianProducts?)KnownLayerProducts.Create(head) ?? new DoubleVjpProducts(head),
    };
}
