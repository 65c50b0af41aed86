using Microsoft.ML.Ntk.Inference;
using Microsoft.ML.Ntk.LinearAlgebra;
using Microsoft.ML.Ntk.Linearization;
using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>Independent outputs against a dense reference whose kernel drops the cross-output blocks of J Jᵀ.</summary>
public class IndependentOutputsTests
{
    [Theory]
    [InlineData(InferenceStrategy.Dense)]
    [InlineData(InferenceStrategy.FunctionSpace)]
    public void IndependentOutputsMatchTheBlockDiagonalReference(InferenceStrategy strategy)
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        manual_seed(91);
        Tensor targets = randn(3, 3, dtype: ScalarType.Float64), queries = randn_like(test.Inputs).narrow(0, 0, 2);
        const double s2 = 0.6, n2 = 0.04;
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        var settings = new RegressionSettings(PriorMean.Network, s2, n2, strategy, new SolverSettings(1e-12, 500), LanczosSteps: 9, IndependentOutputs: true);
        var posterior = GaussianProcessRegression.Fit(network, test.Inputs, targets, settings);
        var prediction = posterior.Predict(queries);
        // The CNN has no structured kernel: its predictions take the cross kernel from the kept training Jacobian.
        Assert.True(posterior.Variance is KernelSpaceVariance { KeepsTrainingRows: true }, posterior.Variance.GetType().Name);

        var parameters = test.Network.parameters().ToList<Tensor>();
        Tensor j = ReferenceJacobian.ByRows(test.Network, test.Inputs, parameters), jStar = ReferenceJacobian.ByRows(test.Network, queries, parameters);
        Tensor Mask(Tensor k) => OutputCouplingReference(k, 3);
        Tensor system = s2 * Mask(j.matmul(j.t())) + n2 * eye(9, dtype: ScalarType.Float64);
        Tensor f0, f0Star;
        using (no_grad())
        {
            f0 = ReferenceJacobian.Call(test.Network, test.Inputs).to(ScalarType.Float64).reshape(-1);
            f0Star = ReferenceJacobian.Call(test.Network, queries).to(ScalarType.Float64).reshape(-1);
        }
        Tensor cross = s2 * Mask(jStar.matmul(j.t()));
        Tensor mean = f0Star + cross.matmul(linalg.solve(system, targets.reshape(-1) - f0));
        Tensor variance = (s2 * Mask(jStar.matmul(jStar.t())) - cross.matmul(linalg.solve(system, cross.t()))).diagonal();

        Tolerances.AssertClose(prediction.Mean, mean.reshape(2, 3), 1e-6, $"{strategy} independent mean");
        Tolerances.AssertClose(prediction.LatentVariance, variance.reshape(2, 3), 1e-6, $"{strategy} independent variance");
    }

    [Fact]
    public void WeightSpaceRefusesIndependentOutputs()
    {
        var test = TestNetworks.Create("cnn-batchnorm");
        var network = new LinearizedNetwork(test.Network, ParameterSelection.All);
        Assert.Throws<NotSupportedException>(() => GaussianProcessRegression.Fit(network, test.Inputs, zeros(3, 3, dtype: ScalarType.Float64),
            new RegressionSettings(Strategy: InferenceStrategy.WeightSpace, IndependentOutputs: true)));
    }

    /// <summary>Written here again, apart from the code under test: keep k[(n, c), (m, c')] only where c = c'.</summary>
    private static Tensor OutputCouplingReference(Tensor kernel, int outputs)
    {
        Tensor masked = kernel.clone();
        for (long row = 0; row < kernel.shape[0]; row++)
            for (long column = 0; column < kernel.shape[1]; column++)
                if (row % outputs != column % outputs) masked[row, column] = 0;
        return masked;
    }
}
