namespace Microsoft.ML.Ntk;

/// <summary>How Jacobian–vector products J·v are computed (TorchSharp has reverse-mode autograd only).</summary>
public enum TangentMode
{
    /// <summary>Forward mode when every module of the adapted part has a tangent rule; double-VJP otherwise.</summary>
    Auto,

    /// <summary>Two reverse passes (J·v = ∂⟨Jᵀu, v⟩/∂u): works for any module, including TorchScript.</summary>
    DoubleVjp,

    /// <summary>
    /// Tangent propagation through known layers (Linear, Conv2d, batch norm in evaluation mode, element-wise
    /// activations, pooling, Flatten, Dropout, Sequential, residual blocks): one pass carries all tangents.
    /// </summary>
    ForwardMode,
}
