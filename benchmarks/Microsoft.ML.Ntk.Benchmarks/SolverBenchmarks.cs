using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// Conjugate gradients on the function-space system s² K0 + σ² I (MLP 1-256-256-256-1, P = 132k, N = 2,000,
/// s² = 1, σ² = 1e-3) to a 1e-3 relative residual: without a preconditioner against a pivoted-Cholesky one of rank 30.
/// The iteration counts are printed ("// cg:" lines).
/// </summary>
[Config(typeof(FitConfig))]
public class SolverBenchmarks
{
    private LinearizedNetwork network = null!;
    private PreparedInputs inputs = null!;
    private Tensor rhs = null!;

    [Params(0, 30)]
    public int PreconditionerRank { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        var mlp = Architectures.Mlp(1, new long[] { 256, 256, 256 }, 1, () => nn.Tanh());
        mlp.eval();
        network = new LinearizedNetwork(mlp, ParameterSelection.All, TangentMode.Auto, batchSize: 1024);
        Tensor x = rand(2000, 1) * 6 - 3;
        inputs = network.Prepare(x);
        rhs = (3 * x).sin().to(ScalarType.Float64);
    }

    [Benchmark(Description = "CG to 1e-3")]
    public void Solve()
    {
        using var scope = NewDisposeScope();
        var kernel = new KernelOperator(network, inputs, 1);
        var system = kernel.WithAddedDiagonal(1e-3);
        IPreconditioner? preconditioner = null;
        if (PreconditionerRank > 0)
        {
            Tensor factor = PivotedCholesky.Factor(kernel, PreconditionerRank, diagonal: network.KernelDiagonalBound(inputs).reshape(-1));
            preconditioner = new LowRankPlusNoisePreconditioner(factor, 1e-3);
        }
        var result = ConjugateGradients.Solve(system, rhs, preconditioner, new SolverSettings(Tolerance: 1e-3, MaxIterations: 2000));
        Console.WriteLine($"// cg: rank {PreconditionerRank}: {result.Iterations} iterations, residual {result.WorstResidual:E2}, converged {result.Converged}");
    }
}
