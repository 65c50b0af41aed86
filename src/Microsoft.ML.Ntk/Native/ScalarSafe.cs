using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// Tensor arithmetic that keeps every Scalar libtorch reads alive for the whole call. TorchSharp 0.107 turns constants into
/// temporary Scalars (the alpha of a + b, the factor of x * 0.5, the exponent of pow) and frees them in finalizers, which the
/// garbage collector may run while the native call still reads them ("Expected false to be true", "Unknown scalar type", or
/// wrong numbers). Here alpha is a Scalar held by a static field (never finalized), and other constants are explicit Scalars
/// disposed after the call. The operator + between tensors (a − b and a * b take no Scalar), and +, −, *, / with a number,
/// comparisons with a number, pow and clamp, are not used in the hot paths.
/// </summary>
internal static class ScalarSafe
{
    private static readonly Scalar One = 1.0.ToScalar();

    /// <summary>Runs an operation with c as an explicit Scalar, disposed after the call (so alive during it).</summary>
    private static Tensor With(double c, Func<Scalar, Tensor> operation)
    {
        using var s = c.ToScalar();
        return operation(s);
    }

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a − b (TorchSharp's subtraction of tensors takes no alpha, so a − b is safe as it is; this names it alike).</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.sub(b);

    /// <summary>a += b, in place.</summary>
    public static Tensor Accumulate(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a², as a · a (TorchSharp's square() is pow(2), with a temporary Scalar exponent).</summary>
    public static Tensor Squared(this Tensor a) => a * a;

    /// <summary>a · c.</summary>
    public static Tensor Times(this Tensor a, double c) => With(c, s => a.mul(s));

    /// <summary>a *= c, in place.</summary>
    public static Tensor TimesInPlace(this Tensor a, double c) => With(c, s => a.mul_(s));

    /// <summary>a / c.</summary>
    public static Tensor Over(this Tensor a, double c) => With(c, s => a.div(s));

    /// <summary>a + c.</summary>
    public static Tensor PlusConstant(this Tensor a, double c) => With(c, s => a.add(s, One));

    /// <summary>a += c, in place.</summary>
    public static Tensor AccumulateConstant(this Tensor a, double c) => With(c, s => a.add_(s, One));

    /// <summary>c − a.</summary>
    public static Tensor ConstantMinus(this Tensor a, double c) => With(c, s => a.neg().add(s, One));

    /// <summary>aᵖ.</summary>
    public static Tensor Power(this Tensor a, double p) => With(p, s => a.pow(s));

    /// <summary>max(a, c).</summary>
    public static Tensor AtLeast(this Tensor a, double c) => With(c, s => a.clamp_min(s));

    /// <summary>min(a, c).</summary>
    public static Tensor AtMost(this Tensor a, double c) => With(c, s => a.clamp_max(s));

    /// <summary>Whether each element exceeds c.</summary>
    public static Tensor Above(this Tensor a, double c) => With(c, s => a.gt(s));

    /// <summary>The Euclidean norm of each column of a [n, k] matrix: [k], or [1, k] with <paramref name="keepdim"/>.</summary>
    public static Tensor ColumnNorms(Tensor a, bool keepdim = false)
    {
        Tensor norms = (a * a).sum(0, keepdim: true).sqrt();
        return keepdim ? norms : norms.squeeze(0);
    }

    /// <summary>Whether each element is below c.</summary>
    public static Tensor Below(this Tensor a, double c) => With(c, s => a.lt(s));

    /// <summary>A tensor like a filled with c.</summary>
    public static Tensor FullLike(Tensor a, double c) => With(c, s => full_like(a, s));
}
