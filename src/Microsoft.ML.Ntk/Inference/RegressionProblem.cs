using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Training data made ready for inference: the prepared inputs, the targets y and the pretrained outputs f0, both
/// flattened to [N·C] in float64 with entry n·C + c for input n and output c (the kernel's layout). Without targets
/// (classification keeps its labels apart) the targets are zeros. The problem made from the data owns its prepared inputs and
/// their primal tapes (up to the linearization's tape budget) and frees them when disposed, at the end of the fit; what a
/// posterior keeps is <see cref="InputsForPredictions"/>, the head inputs without tapes.
/// </summary>
internal sealed class RegressionProblem : IDisposable
{
    private readonly bool ownsInputs;

    public RegressionProblem(LinearizedNetwork network, Tensor inputs, Tensor? targets)
    {
        Network = network;
        Inputs = network.Prepare(inputs);
        ownsInputs = true;
        Tensor outputs = network.Output(Inputs).to(ScalarType.Float64);
        targets ??= zeros_like(outputs);
        if (targets.dim() != 2 || targets.shape[0] != inputs.shape[0])
            throw new ArgumentException($"Targets must have shape [{inputs.shape[0]}, C] (one row per input); got [{string.Join(", ", targets.shape)}].");
        if (!targets.isfinite().all().item<bool>())
            throw new ArgumentException($"The targets hold NaN or infinite values (first at row {FirstNonFiniteRow(targets)}).");
        if (outputs.shape[1] != targets.shape[1])
            throw new ArgumentException($"The network has {outputs.shape[1]} outputs but the targets have {targets.shape[1]} columns.");
        Count = targets.shape[0];
        Outputs = targets.shape[1];
        Targets = targets.to(ScalarType.Float64).reshape(-1).DetachFromDisposeScope();
        PretrainedOutputs = outputs.reshape(-1).DetachFromDisposeScope();
    }

    private RegressionProblem(RegressionProblem other, Tensor targets)
    {
        if (targets.dim() != 2 || targets.shape[0] != other.Count || targets.shape[1] != other.Outputs)
            throw new ArgumentException($"Targets must have shape [{other.Count}, {other.Outputs}]; got [{string.Join(", ", targets.shape)}].");
        Network = other.Network;
        Inputs = other.Inputs;
        Count = other.Count;
        Outputs = other.Outputs;
        PretrainedOutputs = other.PretrainedOutputs;
        Targets = targets.to(ScalarType.Float64).reshape(-1).DetachFromDisposeScope();
    }

    /// <summary>The same inputs with other targets [N, C] (the inputs stay owned by this problem).</summary>
    public RegressionProblem WithTargets(Tensor targets) => new(this, targets);

    /// <summary>The training inputs as a posterior keeps them for its predictions: the same head inputs, no primal tapes.</summary>
    public PreparedInputs InputsForPredictions()
    {
        var kept = Inputs.WithoutTapes();
        kept.HeadInputs.DetachFromDisposeScope();                         // lives as long as the posterior, not the fit's scope
        return kept;
    }

    /// <summary>Frees the prepared inputs and their tapes (a problem made by <see cref="WithTargets"/> leaves them to its source).</summary>
    public void Dispose()
    {
        if (ownsInputs) Inputs.Dispose();
    }

    public LinearizedNetwork Network { get; }
    public PreparedInputs Inputs { get; }
    public long Count { get; }
    public long Outputs { get; }
    public long Size => Count * Outputs;
    public Tensor Targets { get; }
    public Tensor PretrainedOutputs { get; }

    /// <summary>The mean of the targets per output, [C].</summary>
    public double[] SampleMean() => Targets.reshape(Count, Outputs).mean(new long[] { 0 }).data<double>().ToArray();

    /// <summary>m(X) flattened, for a prior mean and (for the constant mean) its values per output.</summary>
    public Tensor PriorMeanValues(PriorMean mean, double[] constant) => mean switch
    {
        PriorMean.Network => PretrainedOutputs,
        PriorMean.Zero => zeros_like(Targets),
        _ => tensor(constant, dtype: ScalarType.Float64).repeat(Count),
    };

    private static long FirstNonFiniteRow(Tensor targets) =>
        (~targets.isfinite()).any(1).nonzero()[0, 0].item<long>();
}
