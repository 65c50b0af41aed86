using Microsoft.ML.Ntk.Linearization.Tangents;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// Products by libtorch's reverse-mode autograd, for any module. J·V by two reverse passes: g(u) = Jᵀu is linear
/// in u, so J·v = ∂⟨g(u), v⟩/∂u; one forward pass and one first backward pass (with a graph) serve all k tangents.
/// When no adapted parameter reaches the output, J = 0 and so is every product.
/// </summary>
internal sealed class DoubleVjpProducts(NetworkFunction network) : IJacobianProducts
{
    public bool UsesPrimalTape => false;

    public Tensor Jvp(Tensor x, Tensor[] parameterTangents, PrimalTape? tape)
    {
        long k = parameterTangents[0].shape[0];
        using var grad = enable_grad();
        var session = new AutogradSession();
        Tensor output = network.Forward(x);
        if (!output.requires_grad) return zeros(AdaptedParameters.Prepend(k, output.shape), dtype: output.dtype, device: output.device);
        Tensor u = zeros_like(output).requires_grad_(true);
        Tensor[] g = session.Grad(new[] { output }, network.Parameters.Tensors, new[] { u }, retainGraph: true, createGraph: true);
        var products = new Tensor[k];
        for (long j = 0; j < k; j++)
        {
            Tensor inner = InnerProduct(g, parameterTangents, j);
            products[j] = inner.requires_grad
                ? session.Grad(new[] { inner }, new[] { u }, new[] { ones_like(inner) }, retainGraph: j < k - 1)[0]
                : zeros_like(u); // no adapted parameter reaches the output along this tangent
        }
        return stack(products).detach();
    }

    public Tensor Vjp(Tensor x, Tensor cotangents, PrimalTape? tape) => ReverseProducts.Vjp(network, x, cotangents);

    private static Tensor InnerProduct(Tensor[] g, Tensor[] tangents, long j)
    {
        Tensor sum = (g[0] * tangents[0][j]).sum();
        for (int i = 1; i < g.Length; i++) sum = sum.Plus((g[i] * tangents[i][j]).sum());
        return sum;
    }
}
