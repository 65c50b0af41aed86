using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The inputs of one prediction, prepared for the adapted part of the network (no primal tapes: each is used once), with
/// what the parts of a prediction need of them computed at most once: the pretrained outputs f0(x*) and, when the
/// variance asks for it, the explicit Jacobian J(x*). For networks of known layers both come from one forward and C
/// backward passes per batch, and the posterior mean then needs no further pass (J(x*) Δθ from the rows).
/// </summary>
internal sealed class TestInputs : IDisposable
{
    private readonly LinearizedNetwork network;
    private Tensor? output, rows;

    public TestInputs(LinearizedNetwork network, Tensor inputs)
    {
        this.network = network;
        Prepared = network.Prepare(inputs, keepTapes: false);
    }

    public PreparedInputs Prepared { get; }
    public long Count => Prepared.Count;

    /// <summary>f0(x*) as [B, C] in float64.</summary>
    public Tensor Output => output ??= network.Output(Prepared).to(ScalarType.Float64);

    /// <summary>J(x*) as [B·C, P] in float64.</summary>
    public Tensor JacobianRows
    {
        get
        {
            if (rows is not null) return rows;
            var (f0, j) = network.OutputAndJacobian(Prepared);
            output ??= f0.to(ScalarType.Float64);
            return rows = j.to(ScalarType.Float64);
        }
    }

    /// <summary>J(x*) Δθ as [B, C] float64, for a shared shift [P] or per-output shifts [C, P]: from the rows when they exist.</summary>
    public Tensor MeanShift(Tensor shift)
    {
        if (rows is null) return OutputCoupling.MeanShift(network, Prepared, shift);
        Tensor perInput = rows.reshape(Count, -1, rows.shape[1]);                          // [B, C, P]
        if (shift.dim() == 1) return perInput.matmul(shift);
        return perInput.transpose(0, 1).bmm(shift.unsqueeze(2)).squeeze(2).t();           // row c of J(x*) times shift c, no [B, C, P] product
    }

    public void Dispose() => Prepared.Dispose();
}
