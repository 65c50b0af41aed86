using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// What a posterior prepares at its first prediction and keeps for its lifetime (a projected or arranged training Jacobian):
/// built without autograd, inside a scope of its own for the intermediates, and detached from every dispose scope, or null
/// when the posterior does not keep it.
/// </summary>
internal static class PredictionState
{
    public static Tensor? Keep(bool kept, Func<Tensor> build)
    {
        if (!kept) return null;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor state = build();
        state.DetachFromDisposeScope();
        return state;
    }
}
