using Microsoft.ML.Ntk.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The step of the softmax modes' line search against the minimizer of Ψ(a + t d) found by golden sections on Ψ itself
/// (explicit float64 kernel, N·C × N·C), for the softmax and for one output's σ.
/// </summary>
public class SoftmaxLineSearchTests
{
    private const double S2 = 0.7;

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public void TheStepIsTheMinimizerOfTheObjectiveAlongTheDirectionWhenItLiesBeforeNewtonsFullStep(int classes)
    {
        var p = Problem(classes, seed: 3);
        Tensor direction = p.Gradient.Times(-20);                                   // far past the minimizer along −∇Ψ
        double expected = GoldenSection(t => p.Objective(p.Weights.Plus(direction.Times(t))), 0, 1);
        Assert.InRange(expected, 1e-3, 0.9);
        var (slope, step) = SoftmaxLineSearch.Along(p.Latent(p.Weights), p.Targets, p.Shift(p.Weights), direction, p.Shift(direction));
        Assert.Equal(expected, step, 1e-6);
        double h = 1e-6, difference = (p.Objective(p.Weights.Plus(direction.Times(h))) - p.Objective(p.Weights.Plus(direction.Times(-h)))) / (2 * h);
        Assert.True(Math.Abs(slope - difference) <= 1e-6 * Math.Abs(slope), $"slope {slope} against the central difference {difference}");
    }

    [Fact]
    public void NewtonsFullStepIsKeptWhenTheObjectiveStillFallsThere()
    {
        var p = Problem(3, seed: 5);
        Tensor direction = p.Gradient.Times(-1e-3);
        var (_, step) = SoftmaxLineSearch.Along(p.Latent(p.Weights), p.Targets, p.Shift(p.Weights), direction, p.Shift(direction));
        Assert.Equal(1.0, step);
    }

    [Fact]
    public void NoStepIsTakenAlongAnAscentDirection()
    {
        var p = Problem(3, seed: 7);
        Tensor direction = p.Gradient;
        int evaluated = 0;
        var state = SoftmaxLineSearch.Step(p.Latent(p.Weights), p.Targets, p.Shift(p.Weights), direction, p.Shift(direction), p.Objective(p.Weights),
                                           t => { evaluated++; return new object(); }, _ => 0);
        Assert.Null(state);
        Assert.Equal(0, evaluated);
    }

    [Fact]
    public void TheAcceptedStepLowersTheObjectiveByArmijosMargin()
    {
        var p = Problem(4, seed: 11);
        Tensor direction = p.Gradient.Times(-20);
        double before = p.Objective(p.Weights);
        var (slope, _) = SoftmaxLineSearch.Along(p.Latent(p.Weights), p.Targets, p.Shift(p.Weights), direction, p.Shift(direction));
        var accepted = SoftmaxLineSearch.Step(p.Latent(p.Weights), p.Targets, p.Shift(p.Weights), direction, p.Shift(direction), before,
                                              t => new Tuple<double, double>(t, p.Objective(p.Weights.Plus(direction.Times(t)))), s => s.Item2);
        Assert.NotNull(accepted);
        Assert.True(accepted!.Item2 <= before + 1e-4 * accepted.Item1 * slope, $"Ψ {before} -> {accepted.Item2} at t = {accepted.Item1}");
    }

    /// <summary>A random softmax Laplace objective: SPD kernel [N·C, N·C] (layout n·C + c), prior mean, labels and weights [N, C].</summary>
    private static LineProblem Problem(int classes, int seed)
    {
        manual_seed(seed);
        int n = 12;
        Tensor g = randn(n * classes, n * classes + 3, dtype: ScalarType.Float64);
        Tensor kernel = g.matmul(g.t()).Over(n * classes);
        Tensor mean = randn(n, classes, dtype: ScalarType.Float64);
        Tensor labels = randint(0, SoftmaxLink.LastLabel(classes) + 1, new long[] { n }, dtype: ScalarType.Int64);
        Tensor weights = randn(n, classes, dtype: ScalarType.Float64).Times(0.3);
        return new LineProblem(kernel, mean, SoftmaxLink.Targets(labels, classes), weights);
    }

    private sealed record LineProblem(Tensor Kernel, Tensor Mean, Tensor Targets, Tensor Weights)
    {
        public Tensor Shift(Tensor a) => Kernel.matmul(a.reshape(-1)).reshape(a.shape).Times(S2);

        public Tensor Latent(Tensor a) => Mean.Plus(Shift(a));

        public double Objective(Tensor a) =>
            SoftmaxLink.NegativeLogLikelihood(Latent(a), Targets) + 0.5 * (a * Shift(a)).sum().item<double>();

        /// <summary>∇Ψ = s² K (a − y + p).</summary>
        public Tensor Gradient => Shift((Weights - Targets).Plus(SoftmaxLink.Probabilities(Latent(Weights))));
    }

    private static double GoldenSection(Func<double, double> f, double low, double high)
    {
        double ratio = (Math.Sqrt(5) - 1) / 2;
        double x1 = high - ratio * (high - low), x2 = low + ratio * (high - low), f1 = f(x1), f2 = f(x2);
        while (high - low > 1e-10)
        {
            if (f1 < f2)
            {
                (high, x2, f2) = (x2, x1, f1);
                x1 = high - ratio * (high - low);
                f1 = f(x1);
            }
            else
            {
                (low, x1, f1) = (x1, x2, f2);
                x2 = low + ratio * (high - low);
                f2 = f(x2);
            }
        }
        return 0.5 * (low + high);
    }
}
