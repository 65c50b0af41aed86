using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Linearization;

/// <summary>
/// The only door to <c>torch.autograd.grad</c>. libtorch errors inside it abort the whole process, so every
/// condition it would complain about is checked here first and met by a managed exception: a gradient
/// output whose shape, dtype or device differs from its output; an output or input that does not require
/// grad; and a backward pass through a graph an earlier call already released. One session per graph.
/// </summary>
internal sealed class AutogradSession
{
    private bool released;

    /// <summary>∂⟨outputs, gradOutputs⟩/∂inputs. Inputs that the outputs do not use get zeros.</summary>
    public Tensor[] Grad(IList<Tensor> outputs, IList<Tensor> inputs, IList<Tensor> gradOutputs,
                         bool retainGraph, bool createGraph = false)
    {
        Validate(outputs, inputs, gradOutputs);
        released |= !retainGraph;
        var grads = autograd.grad(outputs, inputs, gradOutputs, retain_graph: retainGraph,
                                  create_graph: createGraph, allow_unused: true);
        var result = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
            result[i] = grads[i] is { IsInvalid: false } g ? g : zeros_like(inputs[i]);
        return result;
    }

    private void Validate(IList<Tensor> outputs, IList<Tensor> inputs, IList<Tensor> gradOutputs)
    {
        if (released)
            throw new InvalidOperationException("This autograd graph was already released by an earlier backward pass; " +
                                                "run the forward pass again.");
        if (inputs.Count == 0) throw new ArgumentException("There are no inputs to differentiate with respect to.");
        if (outputs.Count != gradOutputs.Count)
            throw new ArgumentException($"{outputs.Count} outputs but {gradOutputs.Count} gradient outputs.");
        for (int i = 0; i < outputs.Count; i++)
        {
            Tensor output = outputs[i], gradOutput = gradOutputs[i];
            if (!output.requires_grad)
                throw new InvalidOperationException($"Output {i} (shape {Shape(output)}) does not depend on any adapted " +
                                                    "parameter, so it has no gradient.");
            if (!output.shape.SequenceEqual(gradOutput.shape))
                throw new ArgumentException($"Gradient output {i} has shape {Shape(gradOutput)} but its output has shape {Shape(output)}.");
            if (output.dtype != gradOutput.dtype || output.device.ToString() != gradOutput.device.ToString())
                throw new ArgumentException($"Gradient output {i} is {gradOutput.dtype} on {gradOutput.device} but its output is " +
                                            $"{output.dtype} on {output.device}.");
        }
        for (int i = 0; i < inputs.Count; i++)
            if (!inputs[i].requires_grad)
                throw new InvalidOperationException($"Input {i} (shape {Shape(inputs[i])}) does not require grad.");
    }

    internal static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
