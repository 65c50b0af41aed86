using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

internal static class Activations
{
    public static nn.Module<Tensor, Tensor> Create(Activation activation) => activation switch
    {
        Activation.ReLU => nn.ReLU(),
        Activation.Tanh => nn.Tanh(),
        Activation.Sigmoid => nn.Sigmoid(),
        Activation.GELU => nn.GELU(),
        Activation.SiLU => nn.SiLU(),
        Activation.ELU => nn.ELU(),
        Activation.LeakyReLU => nn.LeakyReLU(),
        Activation.Softplus => nn.Softplus(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };
}
