using Microsoft.ML.Ntk.LinearAlgebra;

namespace Microsoft.ML.Ntk.Tests.LinearAlgebra;

public class QuasiNewtonTests
{
    [Fact]
    public void AnIllScaledConcaveQuadraticIsMaximizedInFewIterations()
    {
        var result = QuasiNewton.Maximize(p =>
        {
            double a = p[0] - 1, b = p[1] + 2;
            return (-(a * a) - 100 * b * b, new[] { -2 * a, -200 * b });
        }, new[] { 5.0, 3.0 });
        Assert.True(result.Converged, $"gradient {result.GradientNorm:E2} after {result.Iterations} iterations");
        Assert.True(result.Iterations <= 30, $"{result.Iterations} iterations");
        Assert.Equal(1.0, result.Point[0], 1e-6);
        Assert.Equal(-2.0, result.Point[1], 1e-6);
    }

    [Fact]
    public void TheRosenbrockValleyIsFollowed()
    {
        var result = QuasiNewton.Maximize(p =>
        {
            double x = p[0], y = p[1];
            double value = -((1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x));
            return (value, new[] { 2 * (1 - x) + 400 * x * (y - x * x), -200 * (y - x * x) });
        }, new[] { -1.2, 1.0 }, gradientTolerance: 1e-8, maxIterations: 500);
        Assert.True(result.Converged, $"gradient {result.GradientNorm:E2} after {result.Iterations} iterations");
        Assert.Equal(1.0, result.Point[0], 1e-5);
        Assert.Equal(1.0, result.Point[1], 1e-5);
    }
}
