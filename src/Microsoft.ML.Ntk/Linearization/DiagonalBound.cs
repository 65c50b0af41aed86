using Microsoft.ML.Ntk.Linearization.Tangents;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// A cheap upper bound of the kernel diagonal k_cc(x, x) = |∂f_c(x)/∂θ|² for networks of known layers, from one
/// forward pass and C backward passes per batch (instead of one backward pass per input and output). Inputs do
/// not interact in evaluation mode, so one backward pass yields every input's own signal δ at every layer output.
/// The parameter gradient of one input is then exact for Linear layers on vectors, biases and batch norms, and
/// bounded by Cauchy–Schwarz where it sums over positions (convolution weights): |Σ_s δ_s p_sᵀ| ≤ Σ_s |δ_s| |p_s|,
/// with p_s the input patch at position s.
/// </summary>
internal static class DiagonalBound
{
    /// <summary>The bound as [N, C] in float64.</summary>
    public static Tensor Compute(NetworkFunction head, PreparedInputs x, int batchSize)
    {
        using var scope = NewDisposeScope();
        var parts = DataBatches.Of(x.Count, batchSize).Select(b => Batch(head, x.Batch(b.Start, b.Length))).ToArray();
        return scope.MoveToOuter(cat(parts, 0));
    }

    private static Tensor Batch(NetworkFunction head, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var adapted = head.Parameters.Tensors.Select(t => t.Handle).ToHashSet();
        var layers = new List<(nn.Module Layer, Tensor Input, Tensor Output)>();
        var recorder = new PropagationContext(head.Parameters.Tensors)
        {
            RecordLayer = (layer, input, output) =>
            {
                if (layer.parameters().Any(p => adapted.Contains(p.Handle))) layers.Add((layer, input, output));
            },
        };
        Tensor y = NetworkFunction.Guard(x, () => TangentPropagation.Propagate(head.Module, x, null, recorder).Output);
        if (y.dim() == 1) y = y.unsqueeze(1);
        long c = y.shape[1];
        var session = new AutogradSession();
        var columns = new Tensor[c];
        for (long i = 0; i < c; i++)
        {
            Tensor output = y.select(1, i);
            Tensor[] signals = session.Grad(new[] { output }, layers.Select(l => l.Output).ToArray(), new[] { ones_like(output) }, retainGraph: i < c - 1);
            columns[i] = layers.Select((l, k) => SquaredNormBound(l.Layer, l.Input.detach(), signals[k].detach(), adapted))
                               .Aggregate((p, q) => p + q);
        }
        return scope.MoveToOuter(stack(columns, 1));
    }

    /// <summary>Per input: a bound of |∂f/∂θ_layer|² over the layer's adapted parameters, [B] in float64.</summary>
    private static Tensor SquaredNormBound(nn.Module layer, Tensor a, Tensor delta, HashSet<IntPtr> adapted)
    {
        bool Adapted(Tensor? p) => p is not null && adapted.Contains(p.Handle);
        a = a.to(ScalarType.Float64);
        delta = delta.to(ScalarType.Float64);
        Tensor total = zeros(a.shape[0], dtype: ScalarType.Float64, device: a.device);
        switch (layer)
        {
            case Linear linear:
            {
                Tensor d = delta.reshape(delta.shape[0], -1, delta.shape[^1]);        // [B, S, out]
                Tensor input = a.reshape(a.shape[0], -1, a.shape[^1]);               // [B, S, in]
                if (Adapted(linear.weight)) total += (d.square().sum(-1).sqrt() * input.square().sum(-1).sqrt()).sum(1).square();
                if (Adapted(linear.bias)) total += d.sum(1).square().sum(1);
                break;
            }
            case Conv2d conv:
            {
                Tensor patchNorms = PatchNorms(conv, a);                              // [B, 1, H', W']
                if (Adapted(conv.weight)) total += (delta.square().sum(1, keepdim: true).sqrt() * patchNorms).sum(new long[] { 1, 2, 3 }).square();
                if (Adapted(conv.bias)) total += delta.sum(new long[] { 2, 3 }).square().sum(1);
                break;
            }
            case BatchNorm norm:
            {
                long[] spatial = Enumerable.Range(2, (int)a.dim() - 2).Select(d => (long)d).ToArray();
                Tensor normalized = AffineTangents.Normalized(norm, a);
                Tensor SumOverPositions(Tensor t) => spatial.Length == 0 ? t : t.sum(spatial);
                if (Adapted(norm.weight)) total += SumOverPositions(delta * normalized).square().sum(1);
                if (Adapted(norm.bias)) total += SumOverPositions(delta).square().sum(1);
                break;
            }
        }
        return total;
    }

    /// <summary>|p_s| for every output position s: the norm of the input patch the kernel sees there.</summary>
    private static Tensor PatchNorms(Conv2d conv, Tensor a)
    {
        Tensor ones = torch.ones(1, a.shape[1], conv.kernel_size[0], conv.kernel_size[1], dtype: a.dtype, device: a.device);
        return nn.functional.conv2d(a.square(), ones, null, conv.stride, AffineTangents.ExplicitPadding(conv), conv.dilation, 1).sqrt();
    }
}
