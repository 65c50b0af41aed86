namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// Whether the Newton steps of independent outputs try conjugate gradients before the factors (<see cref="IndependentLaplace"/>),
/// remembered across the modes of one fit: the system I + W^½ s²K W^½ is worse conditioned the larger s², so once its solve
/// failed at some s², every later mode at that s² or above goes straight to the factors instead of spending
/// <see cref="InferenceSettings.NewtonConjugateGradientSteps"/> kernel products first (about 0.8 s for 1,000 images of 10 classes).
/// </summary>
internal sealed class NewtonStepChoice
{
    private readonly object gate = new();
    private double failedFrom = double.PositiveInfinity;

    public bool TriesConjugateGradients(double priorVariance)
    {
        lock (gate) return priorVariance < failedFrom;
    }

    public void ConjugateGradientsFailed(double priorVariance)
    {
        lock (gate) failedFrom = Math.Min(failedFrom, priorVariance);
    }
}
