using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.LinearAlgebra;
using Microsoft.ML.Ntk.Tests.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

// The production operators of the inference layer held to the same conformance suite as the linear-algebra ones, each
// against the dense matrix built from the explicit row-by-row float64 Jacobian of a test network (a CNN with batch norm).

internal static class OperatorCases
{
    /// <summary>The CNN test network linearized in float64, its prepared inputs and its row-by-row Jacobian [N·C, P].</summary>
    public static (LinearizedNetwork Network, PreparedInputs Inputs, Tensor Jacobian, long Outputs) Cnn()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All, TangentMode.Auto, batchSize: 2);
        var inputs = network.Prepare(test.Inputs);
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, network.Parameters.Tensors);
        return (network, inputs, j, j.shape[0] / test.Inputs.shape[0]);
    }
}

public class KernelOperatorConformanceTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        var (network, inputs, j, outputs) = OperatorCases.Cnn();
        return (new KernelOperator(network, inputs, outputs), j.matmul(j.t()));
    }
}

public class IndependentKernelOperatorConformanceTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        var (network, inputs, j, outputs) = OperatorCases.Cnn();
        return (new KernelOperator(network, inputs, outputs, independentOutputs: true), OutputCoupling.Independent(j.matmul(j.t()), outputs));
    }
}

public class GaussNewtonOperatorConformanceTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        var (network, inputs, j, _) = OperatorCases.Cnn();
        return (new GaussNewtonOperator(network, inputs), j.t().matmul(j));
    }
}

/// <summary>I + W^½ s² K W^½ with K the per-class blocks and W^½ the roots of each input's softmax curvature.</summary>
public class CurvatureKernelOperatorConformanceTests : LinearOperatorConformance
{
    internal override (LinearOperator, Tensor) Create()
    {
        var (network, inputs, j, outputs) = OperatorCases.Cnn();
        long n = inputs.Count;
        Tensor kernel = OutputCoupling.Independent(j.matmul(j.t()), outputs);              // [N·C, N·C], layout n·C + c
        Tensor blocks = kernel.reshape(n, outputs, n, outputs).diagonal(0, 1, 3).permute(2, 0, 1).contiguous();
        manual_seed(21);
        Tensor p = randn(n, outputs, dtype: ScalarType.Float64).softmax(1);
        Tensor root = CurvatureKernelOperator.CurvatureRoots(p);
        // The dense W^½: block-diagonal over inputs.
        Tensor rootDense = block_diag(Enumerable.Range(0, (int)n).Select(i => root[i]).ToArray());
        const double s2 = 0.7;
        Tensor dense = eye(n * outputs, dtype: ScalarType.Float64) + rootDense.matmul(kernel).matmul(rootDense) * s2;
        // W^½ is a root: W^½ W^½ = diag(p) − p pᵀ per input.
        Tolerances.AssertClose(root.bmm(root), diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1), Tolerances.Float64, "curvature root");
        return (new CurvatureKernelOperator(blocks, root, s2), dense);
    }
}
