using Microsoft.ML.Ntk.Inference;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>When a softmax Newton solve counts as stagnated, and when a stagnated one has still found the mode within rounding.</summary>
public class NewtonProgressTests
{
    [Fact]
    public void StepsThatLowerTheObjectiveAreProgressEvenWhenTheGradientStaysLevel()
    {
        var progress = new NewtonProgress(gradient: 1e3, objective: 500);
        for (int i = 1; i <= 10; i++)
            Assert.False(progress.Stagnated(1e3, 500 - 10 * i), $"iteration {i}: the objective fell by 10");
    }

    [Fact]
    public void ASolveStagnatesAfterThreeIterationsWithoutEither()
    {
        var progress = new NewtonProgress(gradient: 1e-3, objective: 500);
        Assert.False(progress.Stagnated(9.5e-4, 500));
        Assert.False(progress.Stagnated(9.4e-4, 500 - 1e-11));             // below the objective's rounding (5e-10)
        Assert.True(progress.Stagnated(9.3e-4, 500 - 2e-11));
        Assert.Equal(InferenceSettings.StagnantIterations, 3);
    }

    [Fact]
    public void AGradientWhoseBoundIsBelowTheObjectivesRoundingCountsAsConverged()
    {
        // ½ s² |g|² = 0.5 · 2 · 1e-12 = 1e-12 ≤ 1e-12 · 500; ten times the gradient is 100 times the bound.
        Assert.True(ModeAccuracy.WithinRounding(gradient: 1e-6, priorVariance: 2, objective: 500));
        Assert.False(ModeAccuracy.WithinRounding(gradient: 1e-4, priorVariance: 2, objective: 500));
    }
}
