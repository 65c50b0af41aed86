using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Tests.LinearAlgebra;

public class ScalarSearchTests
{
    [Theory]
    [InlineData(1.234)]
    [InlineData(-5.5)]
    [InlineData(0.0)]
    public void TheMaximumIsFoundToTheToleranceWithFewEvaluations(double peak)
    {
        // A smooth peak that is not a parabola, so that Brent's parabolic steps are tested.
        double Function(double u) => -Math.Log(1 + (u - peak) * (u - peak)) - 0.1 * Math.Pow(u - peak, 4);
        var result = ScalarSearch.Maximize(Function, center: 0);
        Assert.True(Math.Abs(result.Point - peak) <= LinearAlgebraSettings.ScalarSearchTolerance, $"found {result.Point}, peak {peak}");
        Assert.False(result.AtEdge);
        Assert.True(result.Evaluations <= 20, $"{result.Evaluations} evaluations");
    }

    [Theory]
    [InlineData(20.0)]
    [InlineData(-20.0)]
    public void AMaximumBeyondTheRangeIsReportedAtItsEdge(double peak)
    {
        var result = ScalarSearch.Maximize(u => -(u - peak) * (u - peak), center: 0, halfWidth: 8);
        Assert.True(result.AtEdge);
        Assert.True(Math.Abs(Math.Abs(result.Point) - 8) <= LinearAlgebraSettings.ScalarSearchTolerance, $"found {result.Point}");
    }
}
