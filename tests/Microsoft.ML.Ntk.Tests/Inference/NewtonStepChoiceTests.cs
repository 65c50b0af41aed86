using Microsoft.ML.Ntk.Inference;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>Once conjugate gradients failed at some s², modes at that s² or above go straight to the factors; smaller ones still try.</summary>
public class NewtonStepChoiceTests
{
    [Fact]
    public void AFailureAtOnePriorVarianceStopsTheTriesAtItAndAbove()
    {
        var steps = new NewtonStepChoice();
        Assert.True(steps.TriesConjugateGradients(1e6));
        steps.ConjugateGradientsFailed(5.0);
        steps.ConjugateGradientsFailed(40.0);                                                  // a later failure higher up changes nothing
        Assert.False(steps.TriesConjugateGradients(5.0));
        Assert.False(steps.TriesConjugateGradients(300.0));
        Assert.True(steps.TriesConjugateGradients(4.9));
    }
}
