using System.Collections.Concurrent;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// A pretrained network to adapt: a TorchScript module saved by PyTorch, a built-in architecture with weights (a PyTorch
/// state_dict, safetensors or TorchSharp file, recognised from its content), or any TorchSharp module built by a
/// factory registered under a contract name (so that a saved model can rebuild it), with weights. The network is put in
/// evaluation mode; it is owned by this object.
/// </summary>
public sealed class PretrainedNetwork
{
    private static readonly ConcurrentDictionary<string, Func<nn.Module<Tensor, Tensor>>> Factories = new(StringComparer.Ordinal);

    private PretrainedNetwork(nn.Module module, string description)
    {
        Module = module;
        Description = description;
        module.eval();
    }

    /// <summary>What the network is and where it came from.</summary>
    public string Description { get; }

    /// <summary>The module: an nn.Module&lt;Tensor, Tensor&gt; or a TorchScript module.</summary>
    internal nn.Module Module { get; }

    /// <summary>The TorchScript file's bytes, kept for saving, when the network is one.</summary>
    internal byte[]? TorchScriptBytes { get; private init; }

    /// <summary>The built-in architecture, when the network is one.</summary>
    internal NetworkArchitecture? Architecture { get; private init; }

    /// <summary>The factory's contract name, when a registered factory built the network.</summary>
    internal string? FactoryName { get; private init; }

    /// <summary>Loads a TorchScript module (torch.jit.script(...).save(path) or torch.jit.trace(...).save(path)).</summary>
    public static PretrainedNetwork FromTorchScript(string path)
    {
        TorchSharpLoader.EnsureLoaded();
        var format = WeightsFormats.Detect(path);
        if (format != WeightsFormat.TorchScript)
            throw new InvalidDataException($"'{path}' is not a TorchScript file; it looks like {Describe(format)}. " +
                                           "Use PretrainedNetwork.FromArchitecture (or FromFactory) with it as the weights.");
        nn.Module module;
        try
        {
            module = jit.load<Tensor, Tensor>(path);
        }
        catch (System.Runtime.InteropServices.ExternalException ex)
        {
            throw new InvalidDataException($"'{path}' could not be loaded as a TorchScript module: {ex.Message.Split('\n')[0]}", ex);
        }
        return new PretrainedNetwork(module, $"TorchScript module from '{Path.GetFileName(path)}'") { TorchScriptBytes = File.ReadAllBytes(path) };
    }

    /// <summary>Builds a built-in architecture and loads its weights from <paramref name="weightsPath"/>.</summary>
    public static PretrainedNetwork FromArchitecture(NetworkArchitecture architecture, string weightsPath)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        TorchSharpLoader.EnsureLoaded();
        var module = architecture.Build();
        WeightsLoader.Load(module, weightsPath);
        return new PretrainedNetwork(module, $"{architecture} with weights from '{Path.GetFileName(weightsPath)}'") { Architecture = architecture };
    }

    /// <summary>
    /// Registers a factory for a custom TorchSharp module under a contract name. Register it again (same name, same
    /// module) in the application that loads a saved model, as ML.NET does for custom mappings.
    /// </summary>
    public static void RegisterFactory(string contractName, Func<nn.Module<Tensor, Tensor>> factory)
    {
        if (string.IsNullOrWhiteSpace(contractName)) throw new ArgumentException("The contract name must not be empty.", nameof(contractName));
        ArgumentNullException.ThrowIfNull(factory);
        Factories[contractName] = factory;
    }

    /// <summary>Builds the module of a registered factory and loads its weights from <paramref name="weightsPath"/>.</summary>
    public static PretrainedNetwork FromFactory(string contractName, string weightsPath)
    {
        TorchSharpLoader.EnsureLoaded();
        var module = CreateFromFactory(contractName);
        WeightsLoader.Load(module, weightsPath);
        return new PretrainedNetwork(module, $"'{contractName}' module with weights from '{Path.GetFileName(weightsPath)}'") { FactoryName = contractName };
    }

    /// <summary>A fresh module from a registered factory, or an error listing the registered names.</summary>
    internal static nn.Module<Tensor, Tensor> CreateFromFactory(string contractName)
    {
        if (!Factories.TryGetValue(contractName, out var factory))
            throw new InvalidOperationException($"No network factory is registered under '{contractName}'. Call PretrainedNetwork.RegisterFactory " +
                                                $"first; registered: {(Factories.IsEmpty ? "none" : string.Join(", ", Factories.Keys))}.");
        return factory() ?? throw new InvalidOperationException($"The factory '{contractName}' returned no module.");
    }

    /// <summary>The description.</summary>
    public override string ToString() => Description;

    private static string Describe(WeightsFormat format) => format switch
    {
        WeightsFormat.PyTorchStateDict => "a PyTorch state_dict",
        WeightsFormat.Safetensors => "a safetensors file",
        _ => "a TorchSharp weights file",
    };
}
