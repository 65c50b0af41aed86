using Microsoft.ML.Ntk.Linearization;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// How the C outputs share the kernel. Coupled (the default): k((x, c), (x', c')) = s² J_c(x) J_c'(x')ᵀ, cross-output
/// terms included, so the posterior mean is one shift Δθ of the shared parameters. Independent: the cross-output terms
/// are dropped, as if each output had its own copy of the parameters; the mean then needs one shift per output
/// (Δθ_c = s² Jᵀ (α restricted to output c), a [C, P] state) and output c moves along J_c only.
/// </summary>
internal static class OutputCoupling
{
    /// <summary>Zeroes the cross-output entries of a kernel laid out [N1·C, N2·C].</summary>
    public static Tensor Independent(Tensor kernel, long outputs)
    {
        long n1 = kernel.shape[0] / outputs, n2 = kernel.shape[1] / outputs;
        Tensor mask = eye(outputs, dtype: kernel.dtype, device: kernel.device).reshape(1, outputs, 1, outputs);
        return (kernel.reshape(n1, outputs, n2, outputs) * mask).reshape(kernel.shape);
    }

    /// <summary>Cotangents that restrict α [N·C] to each output in turn: [C, N, C], block c holding α's output-c entries.</summary>
    public static Tensor PerOutput(Tensor alpha, long count, long outputs)
    {
        Tensor a = alpha.reshape(1, count, outputs);
        return a * eye(outputs, dtype: alpha.dtype, device: alpha.device).reshape(outputs, 1, outputs);
    }

    /// <summary>J(x*) Δθ at prepared inputs, [B, C] float64, for a shared shift [P] or per-output shifts [C, P].</summary>
    public static Tensor MeanShift(LinearizedNetwork network, PreparedInputs inputs, Tensor shift)
    {
        if (shift.dim() == 1)
            return network.Jvp(inputs, shift.reshape(1, -1).to(network.Parameters.DType))[0].to(ScalarType.Float64);
        Tensor moved = network.Jvp(inputs, shift.to(network.Parameters.DType)).to(ScalarType.Float64);   // [C, B, C]
        return moved.diagonal(0, 0, 2);                                                                  // [B, C]: output c along Δθ_c
    }
}
