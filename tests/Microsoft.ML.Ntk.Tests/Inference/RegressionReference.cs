using Microsoft.ML.Ntk.Tests.Linearization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Inference;

/// <summary>
/// The regression posterior computed densely in float64 from explicit Jacobians (built row by row, without the code
/// under test) and torch's own linear solves: the reference every strategy is held to.
/// </summary>
internal sealed class RegressionReference
{
    public RegressionReference(nn.Module network, Tensor trainInputs, Tensor targets, Tensor testInputs,
                               double priorVariance, double noiseVariance, PriorMean mean)
    {
        var parameters = network.parameters().ToList<Tensor>();
        Tensor j = ReferenceJacobian.ByRows(network, trainInputs, parameters);
        Tensor jStar = ReferenceJacobian.ByRows(network, testInputs, parameters);
        long n = j.shape[0], c = targets.shape[1];
        using var noGrad = no_grad();
        Tensor f0 = ReferenceJacobian.Call(network, trainInputs).to(ScalarType.Float64).reshape(-1);
        Tensor f0Star = ReferenceJacobian.Call(network, testInputs).to(ScalarType.Float64).reshape(-1);
        Tensor y = targets.to(ScalarType.Float64).reshape(-1);
        Tensor system = priorVariance * j.matmul(j.t()) + noiseVariance * eye(n, dtype: ScalarType.Float64);

        Tensor m = mean == PriorMean.Network ? f0 : zeros_like(y), mStar = mean == PriorMean.Network ? f0Star : zeros(f0Star.shape[0], dtype: ScalarType.Float64);
        Constant = new double[c];
        if (mean == PriorMean.Constant)
        {
            // generalized least squares: b = (Hᵀ K⁻¹ H)⁻¹ Hᵀ K⁻¹ y with H the output indicator
            Tensor h = eye(c, dtype: ScalarType.Float64).repeat(n / c, 1);
            Tensor kInvH = linalg.solve(system, h);
            Tensor b = linalg.solve(h.t().matmul(kInvH), kInvH.t().matmul(y));
            Constant = b.data<double>().ToArray();
            m = h.matmul(b);
            mStar = eye(c, dtype: ScalarType.Float64).repeat(f0Star.shape[0] / c, 1).matmul(b);
        }
        Tensor alpha = linalg.solve(system, y - m);
        ParameterShift = priorVariance * j.t().matmul(alpha);
        Mean = (mStar + jStar.matmul(ParameterShift)).reshape(-1, c);
        Tensor cross = priorVariance * jStar.matmul(j.t());
        Tensor covariance = priorVariance * jStar.matmul(jStar.t()) - cross.matmul(linalg.solve(system, cross.t()));
        LatentVariance = covariance.diagonal().reshape(-1, c);
        var residual = y - m;
        LogMarginalLikelihood = -0.5 * residual.dot(alpha).item<double>() - 0.5 * linalg.slogdet(system).Item2.item<double>()
                                - 0.5 * n * Math.Log(2 * Math.PI);
        Jacobian = j;
    }

    public Tensor Jacobian { get; }
    public Tensor ParameterShift { get; }
    public Tensor Mean { get; }
    public Tensor LatentVariance { get; }
    public double[] Constant { get; }
    public double LogMarginalLikelihood { get; }
}
