using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>
/// Loads weights into a module built in C#, checking every key and shape first so that a mismatch is met by an error
/// naming the first offending key and both shapes (and nothing is half-loaded).
/// </summary>
internal static class WeightsLoader
{
    public static void Load(nn.Module module, string path)
    {
        var format = WeightsFormats.Detect(path);
        if (format == WeightsFormat.TorchScript)
            throw new InvalidDataException($"'{path}' is a TorchScript module, not a set of weights; load it as a TorchScript network instead.");
        if (format == WeightsFormat.TorchSharp)
        {
            LoadTorchSharp(module, path);
            return;
        }
        Dictionary<string, Tensor> weights = format == WeightsFormat.Safetensors ? Safetensors.LoadStateDict(path) : ReadPyTorch(path);
        Apply(module, weights, path);
    }

    /// <summary>Copies the weights into the module's parameters and buffers after checking names and shapes.</summary>
    public static void Apply(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var expected = module.state_dict();
        CheckEntries(expected.ToDictionary(e => e.Key, e => e.Value.shape), weights.ToDictionary(e => e.Key, e => e.Value.shape), source);
        using var noGrad = no_grad();
        foreach (var (name, tensor) in expected) tensor.copy_(weights[name].to(tensor.dtype).to(tensor.device));
    }

    /// <summary>Every expected entry present with its shape, and no other: else an error naming the first offender and both shapes.</summary>
    private static void CheckEntries(IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, long[]> given, string source)
    {
        foreach (var (name, shape) in expected)
        {
            if (!given.TryGetValue(name, out var found))
                throw new InvalidDataException($"'{source}' has no entry '{name}' (shape [{string.Join(", ", shape)}]); " +
                                               $"it holds: {string.Join(", ", given.Keys.Take(12))}{(given.Count > 12 ? ", …" : "")}.");
            if (!found.SequenceEqual(shape))
                throw new InvalidDataException($"'{source}': entry '{name}' has shape [{string.Join(", ", found)}] but the architecture " +
                                               $"expects [{string.Join(", ", shape)}].");
        }
        var unexpected = given.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"'{source}' has entries the architecture does not: {string.Join(", ", unexpected.Take(12))}.");
    }

    private static Dictionary<string, Tensor> ReadPyTorch(string path)
    {
        Hashtable table;
        try
        {
            table = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception ex) when (ex is not IOException and not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' could not be read as a PyTorch state_dict (torch.save of module.state_dict()): " +
                                           $"{ex.GetType().Name}: {ex.Message}", ex);
        }
        var weights = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry entry in table)
            if (entry.Key is string key && entry.Value is Tensor value) weights[key] = value;
        return weights;
    }

    private static void LoadTorchSharp(nn.Module module, string path)
    {
        CheckEntries(module.state_dict().ToDictionary(e => e.Key, e => e.Value.shape), TorchSharpEntries.Read(path), path);
        try
        {
            module.load(path, strict: true);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or System.Runtime.InteropServices.ExternalException)
        {
            throw new InvalidDataException($"'{path}' could not be loaded as TorchSharp weights for this architecture: {ex.Message}", ex);
        }
    }
}
