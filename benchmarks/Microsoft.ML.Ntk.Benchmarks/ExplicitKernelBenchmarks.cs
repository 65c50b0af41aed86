using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// Building the explicit kernel K(X, X) of an MLP 784-512-256-10 (535k parameters, float32, 32 inputs, 10 outputs):
/// from the explicit Jacobian (generic, the baseline) against the structured form (Δ Δᵀ) ∘ (A Aᵀ) per layer.
/// </summary>
[Config(typeof(ProductsConfig))]
public class ExplicitKernelBenchmarks
{
    private LinearizedNetwork linearized = null!;
    private PreparedInputs inputs = null!;

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        var network = Architectures.Mlp(784, new long[] { 512, 256 }, 10, () => nn.Tanh());
        network.eval();
        linearized = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.Auto, batchSize: 256);
        inputs = linearized.Prepare(randn(32, 784));
        if (!linearized.HasStructuredKernel(inputs)) throw new InvalidOperationException("expected a structured kernel");
    }

    [Benchmark(Baseline = true, Description = "generic: J Jᵀ from explicit J")]
    public void Generic() { using var s = NewDisposeScope(); linearized.GenericKernel(inputs, inputs); }

    [Benchmark(Description = "structured: Σ (ΔΔᵀ)∘(AAᵀ)")]
    public void Structured() { using var s = NewDisposeScope(); linearized.Kernel(inputs, inputs); }
}
