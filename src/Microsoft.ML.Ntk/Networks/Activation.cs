namespace Microsoft.ML.Ntk;

/// <summary>The element-wise activation between the layers of a built-in architecture (PyTorch's module of the same name).</summary>
public enum Activation
{
    /// <summary>nn.ReLU.</summary>
    ReLU,
    /// <summary>nn.Tanh.</summary>
    Tanh,
    /// <summary>nn.Sigmoid.</summary>
    Sigmoid,
    /// <summary>nn.GELU (exact).</summary>
    GELU,
    /// <summary>nn.SiLU.</summary>
    SiLU,
    /// <summary>nn.ELU (α = 1).</summary>
    ELU,
    /// <summary>nn.LeakyReLU (slope 0.01).</summary>
    LeakyReLU,
    /// <summary>nn.Softplus (β = 1).</summary>
    Softplus,
}
