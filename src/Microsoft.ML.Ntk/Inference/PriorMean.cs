namespace Microsoft.ML.Ntk;

/// <summary>The prior mean m(x) of the Gaussian process over the network's outputs.</summary>
public enum PriorMean
{
    /// <summary>m(x) = f(x; θ0): adaptation starts from the pretrained network's prediction (the default).</summary>
    Network,

    /// <summary>m(x) = c, one constant per output, learned by maximizing the marginal likelihood.</summary>
    Constant,

    /// <summary>m(x) = 0.</summary>
    Zero,
}
