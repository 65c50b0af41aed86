using BenchmarkDotNet.Attributes;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Benchmarks;

/// <summary>
/// The Jacobian products against one forward pass of the same batch (the baseline), float32, all parameters adapted:
/// a CIFAR-style ResNet-18 (11.2M parameters, batch 64 of 3×32×32) and an MLP 784-1000-200-10 (987k parameters, batch 256).
/// "single pass" rows compute everything from the inputs; "taped" rows reuse what an earlier pass over the same inputs
/// kept (primal values for J·v, the autograd graph for Jᵀu), as every product after the first does during a fit.
/// </summary>
[Config(typeof(ProductsConfig))]
public class JacobianProductBenchmarks
{
    private LinearizedNetwork forwardMode = null!, doubleVjp = null!, taped = null!;
    private PreparedInputs inputs = null!, doubleVjpInputs = null!, tapedInputs = null!;
    private Tensor v = null!, u = null!;

    [Params("ResNet18", "Mlp1M")]
    public string Network { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        Threads.Set();
        manual_seed(0);
        var (network, x) = Network == "ResNet18"
            ? (Architectures.CifarResNet(new[] { 2, 2, 2, 2 }, classes: 10), randn(64, 3, 32, 32))
            : (Architectures.Mlp(784, new long[] { 1000, 200 }, 10, () => nn.ReLU()), randn(256, 784));
        network.eval();
        forwardMode = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.ForwardMode, batchSize: 256, tapeBudgetBytes: 0);
        doubleVjp = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.DoubleVjp, batchSize: 256);
        taped = new LinearizedNetwork(network, ParameterSelection.All, TangentMode.ForwardMode, batchSize: 256, tapeBudgetBytes: 4L << 30);
        inputs = forwardMode.Prepare(x);
        doubleVjpInputs = doubleVjp.Prepare(x);
        tapedInputs = taped.Prepare(x);
        v = randn(1, forwardMode.Parameters.Count);
        u = randn(1, x.shape[0], 10);
        using (NewDisposeScope()) taped.Jvp(tapedInputs, v); // records the tape
        Console.WriteLine($"// tape: {tapedInputs.TapeBytes / (1 << 20)} MiB");
        Console.WriteLine($"// {Network}: P = {forwardMode.Parameters.Count:N0}, batch {x.shape[0]}");
    }

    [Benchmark(Baseline = true, Description = "forward f(X)")]
    public void Forward() { using var s = NewDisposeScope(); forwardMode.Output(inputs); }

    [Benchmark(Description = "Jᵀu single pass")]
    public void Vjp() { using var s = NewDisposeScope(); forwardMode.Vjp(inputs, u); }

    [Benchmark(Description = "Jᵀu taped")]
    public void VjpTaped() { using var s = NewDisposeScope(); taped.Vjp(tapedInputs, u); }

    [Benchmark(Description = "J·v double-VJP")]
    public void JvpDoubleVjp() { using var s = NewDisposeScope(); doubleVjp.Jvp(doubleVjpInputs, v); }

    [Benchmark(Description = "J·v forward mode, single pass")]
    public void JvpForwardMode() { using var s = NewDisposeScope(); forwardMode.Jvp(inputs, v); }

    [Benchmark(Description = "J·v forward mode, taped")]
    public void JvpTaped() { using var s = NewDisposeScope(); taped.Jvp(tapedInputs, v); }

    [Benchmark(Description = "K·v double-VJP")]
    public void KernelProductAutograd() { using var s = NewDisposeScope(); doubleVjp.KernelProduct(doubleVjpInputs, doubleVjpInputs, u); }

    [Benchmark(Description = "K·v forward mode, single pass")]
    public void KernelProduct() { using var s = NewDisposeScope(); forwardMode.KernelProduct(inputs, inputs, u); }

    [Benchmark(Description = "K·v forward mode, taped")]
    public void KernelProductTaped() { using var s = NewDisposeScope(); taped.KernelProduct(tapedInputs, tapedInputs, u); }

    [Benchmark(Description = "JᵀJ·v taped")]
    public void GaussNewtonTaped() { using var s = NewDisposeScope(); taped.GaussNewtonProduct(tapedInputs, v, OutputCurvature.Identity); }
}
