using System.Collections.Concurrent;
using Microsoft.ML.Ntk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk;

/// <summary>
/// A pretrained network to adapt: a TorchScript module saved by PyTorch, a built-in architecture with weights (a PyTorch
/// state_dict, safetensors or TorchSharp file, recognised from its content), or any TorchSharp module built by a
/// factory registered under a contract name (so that a saved model can rebuild it), with weights. The network is put in
/// evaluation mode. Trainers never change it: each fit works on its own copy.
/// </summary>
public sealed class PretrainedNetwork
{
    private static readonly ConcurrentDictionary<string, Func<nn.Module<Tensor, Tensor>>> Factories = new(StringComparer.Ordinal);
    private static readonly byte[] Magic = "NTKN"u8.ToArray();
    private const int FormatVersion = 1;

    private enum Source : byte { TorchScript = 1, Architecture = 2, Factory = 3 }

    private readonly Source source;

    /// <summary>The TorchScript file, or the weights in TorchSharp's format: what rebuilds the network.</summary>
    private readonly byte[] payload;

    private PretrainedNetwork(nn.Module module, string description, Source source, byte[] payload)
    {
        CheckFinite(module, description);
        Module = module;
        Description = description;
        this.source = source;
        this.payload = payload;
        module.eval();
    }

    /// <summary>What the network is and where it came from.</summary>
    public string Description { get; }

    /// <summary>The module: an nn.Module&lt;Tensor, Tensor&gt; or a TorchScript module.</summary>
    internal nn.Module Module { get; }

    /// <summary>The TorchScript file's bytes, when the network is one.</summary>
    internal byte[]? TorchScriptBytes => source == Source.TorchScript ? payload : null;

    /// <summary>The built-in architecture, when the network is one.</summary>
    internal NetworkArchitecture? Architecture { get; private init; }

    /// <summary>The factory's contract name, when a registered factory built the network.</summary>
    internal string? FactoryName { get; private init; }

    /// <summary>The shape of one input when the architecture fixes it (built-in architectures), else null.</summary>
    internal long[]? InputShape => Architecture?.InputShape;

    /// <summary>Loads a TorchScript module (torch.jit.script(...).save(path) or torch.jit.trace(...).save(path)).</summary>
    public static PretrainedNetwork FromTorchScript(string path)
    {
        TorchSharpLoader.EnsureLoaded();
        var format = WeightsFormats.Detect(path);
        if (format != WeightsFormat.TorchScript)
            throw new InvalidDataException($"'{path}' is not a TorchScript file; it looks like {Describe(format)}. " +
                                           "Use PretrainedNetwork.FromArchitecture (or FromFactory) with it as the weights.");
        return new PretrainedNetwork(LoadTorchScript(path), $"TorchScript module from '{Path.GetFileName(path)}'", Source.TorchScript,
                                     File.ReadAllBytes(path));
    }

    /// <summary>Builds a built-in architecture and loads its weights from <paramref name="weightsPath"/>.</summary>
    public static PretrainedNetwork FromArchitecture(NetworkArchitecture architecture, string weightsPath)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        TorchSharpLoader.EnsureLoaded();
        var module = architecture.Build();
        WeightsLoader.Load(module, weightsPath);
        return new PretrainedNetwork(module, $"{architecture} with weights from '{Path.GetFileName(weightsPath)}'", Source.Architecture,
                                     SaveWeights(module))
        { Architecture = architecture };
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

    /// <summary>Removes a registered factory (tests use it to act as an application that never registered one).</summary>
    internal static bool UnregisterFactory(string contractName) => Factories.TryRemove(contractName, out _);

    /// <summary>Builds the module of a registered factory and loads its weights from <paramref name="weightsPath"/>.</summary>
    public static PretrainedNetwork FromFactory(string contractName, string weightsPath)
    {
        TorchSharpLoader.EnsureLoaded();
        var module = CreateFromFactory(contractName);
        WeightsLoader.Load(module, weightsPath);
        return new PretrainedNetwork(module, $"'{contractName}' module with weights from '{Path.GetFileName(weightsPath)}'", Source.Factory,
                                     SaveWeights(module))
        { FactoryName = contractName };
    }

    /// <summary>A fresh module from a registered factory, or an error listing the registered names.</summary>
    internal static nn.Module<Tensor, Tensor> CreateFromFactory(string contractName)
    {
        if (!Factories.TryGetValue(contractName, out var factory))
            throw new InvalidOperationException($"No network factory is registered under '{contractName}'. Call PretrainedNetwork.RegisterFactory " +
                                                $"first; registered: {(Factories.IsEmpty ? "none" : string.Join(", ", Factories.Keys))}.");
        return factory() ?? throw new InvalidOperationException($"The factory '{contractName}' returned no module.");
    }

    /// <summary>A new copy of the pretrained module, in evaluation mode, that the caller owns and may change.</summary>
    internal nn.Module CreateCopy()
    {
        var module = Rebuild(source, Architecture, FactoryName, payload);
        module.eval();
        return module;
    }

    private static nn.Module Rebuild(Source source, NetworkArchitecture? architecture, string? factory, byte[] payload)
    {
        if (source == Source.TorchScript) return WithTemporaryFile(payload, path => LoadTorchScript(path, "The TorchScript network saved in this model"));
        nn.Module module = source switch
        {
            Source.Architecture => architecture!.Build(),
            Source.Factory => CreateFromFactory(factory!),
            _ => throw new InvalidDataException($"The saved network has an unknown kind ({(byte)source})."),
        };
        using var stream = new MemoryStream(payload, writable: false);
        module.load(stream, strict: true);
        return module;
    }

    /// <summary>Writes how to rebuild the network: its kind, the architecture or factory name, and the TorchScript file or weights.</summary>
    internal void Write(BinaryWriter writer)
    {
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write((byte)source);
        writer.Write(Description);
        if (source == Source.Architecture) Architecture!.Write(writer);
        if (source == Source.Factory) writer.Write(FactoryName!);
        writer.Write(payload.Length);
        writer.Write(payload);
    }

    /// <summary>Rebuilds a network written by <see cref="Write"/>; a factory network needs its factory registered.</summary>
    internal static PretrainedNetwork Read(BinaryReader reader)
    {
        TorchSharpLoader.EnsureLoaded();
        if (!reader.ReadBytes(Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException("The saved network's header is wrong.");
        int version = reader.ReadInt32();
        if (version > FormatVersion)
            throw new InvalidDataException($"The network was saved in format version {version}; this library reads up to {FormatVersion}. Update Microsoft.ML.Ntk.");
        var kind = (Source)reader.ReadByte();
        string description = reader.ReadString();
        var architecture = kind == Source.Architecture ? NetworkArchitecture.Read(reader) : null;
        string? factory = kind == Source.Factory ? reader.ReadString() : null;
        int length = reader.ReadInt32();
        if (length < 0) throw new InvalidDataException($"The saved network has an impossible size ({length}).");
        byte[] payload = reader.ReadBytes(length);
        if (payload.Length != length) throw new InvalidDataException("The saved network is cut short.");
        return new PretrainedNetwork(Rebuild(kind, architecture, factory, payload), description, kind, payload)
        {
            Architecture = architecture,
            FactoryName = factory,
        };
    }

    /// <summary>The description of a network written by <see cref="Write"/>, without rebuilding it.</summary>
    internal static string ReadDescription(BinaryReader reader)
    {
        if (!reader.ReadBytes(Magic.Length).SequenceEqual(Magic)) throw new InvalidDataException("The saved network's header is wrong.");
        reader.ReadInt32();
        reader.ReadByte();
        return reader.ReadString();
    }

    /// <summary>Refuses weights with NaN or infinity (they would fail much later, inside a factorization), naming the first.</summary>
    private static void CheckFinite(nn.Module module, string description)
    {
        foreach (var (name, tensor) in module.state_dict())
            if (tensor.is_floating_point() && !tensor.isfinite().all().item<bool>())
                throw new InvalidDataException($"{description}: '{name}' holds NaN or infinite values; a pretrained network's weights must be finite.");
    }

    /// <summary>The description.</summary>
    public override string ToString() => Description;

    private static nn.Module LoadTorchScript(string path, string? what = null)
    {
        TorchScriptArchive.Check(path, what ?? $"'{path}'");
        TorchScriptProbe.Check(path, what ?? $"'{path}'");
        try
        {
            return jit.load<Tensor, Tensor>(path);
        }
        catch (System.Runtime.InteropServices.ExternalException ex)
        {
            throw new InvalidDataException($"{what ?? $"'{path}'"} could not be loaded as a TorchScript module: {ex.Message.Split('\n')[0]}", ex);
        }
    }

    private static byte[] SaveWeights(nn.Module module)
    {
        using var stream = new MemoryStream();
        module.save(stream);
        return stream.ToArray();
    }

    private static T WithTemporaryFile<T>(byte[] bytes, Func<string, T> use)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ntk-{Guid.NewGuid():N}.pt");
        try
        {
            File.WriteAllBytes(path, bytes);
            return use(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Describe(WeightsFormat format) => format switch
    {
        WeightsFormat.PyTorchStateDict => "a PyTorch state_dict",
        WeightsFormat.Safetensors => "a safetensors file",
        _ => "a TorchSharp weights file",
    };
}
