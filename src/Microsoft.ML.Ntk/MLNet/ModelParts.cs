using System.Security.Cryptography;

namespace Microsoft.ML.Ntk.MLNet;

/// <summary>
/// The named parts of a saved Ntk state: each is its name, its length, its bytes and the SHA-256 of those bytes. Reading
/// checks the name, that the length fits in what is left of the state, and the checksum, before any byte of the part is
/// interpreted, so that a damaged model is refused at load with the part named, not allowed to predict wrong numbers or to
/// allocate what a damaged size field asks for.
/// </summary>
internal static class ModelParts
{
    public const string Settings = "settings", Network = "network", Posterior = "posterior", Summary = "summary";
    private const int HashBytes = 32;

    public static void Write(BinaryWriter writer, string name, Action<Stream> write)
    {
        using var part = new MemoryStream();
        write(part);
        var bytes = new ReadOnlySpan<byte>(part.GetBuffer(), 0, (int)part.Length);
        writer.Write(name);
        writer.Write(part.Length);
        writer.Write(bytes);
        writer.Write(SHA256.HashData(bytes));
    }

    /// <summary>The verified bytes of the part <paramref name="name"/>, as a read-only stream.</summary>
    public static MemoryStream Read(BinaryReader reader, string name)
    {
        string found = reader.ReadString();
        if (found != name)
            throw new InvalidDataException($"The Ntk model state is damaged: its {name} part was expected, but a part named '{Printable(found)}' was found.");
        long length = reader.ReadInt64();
        long remaining = reader.BaseStream.Length - reader.BaseStream.Position - HashBytes;
        if (length < 0 || length > remaining)
            throw new InvalidDataException($"The Ntk model state is damaged or cut short: its {name} part claims {length} bytes, but only {Math.Max(remaining, 0)} remain.");
        byte[] bytes = reader.ReadBytes((int)length);
        byte[] hash = reader.ReadBytes(HashBytes);
        if (!SHA256.HashData(bytes).AsSpan().SequenceEqual(hash))
            throw new InvalidDataException($"The Ntk model state is damaged: its {name} part ({length} bytes) does not match its checksum.");
        return new MemoryStream(bytes, writable: false);
    }

    private static string Printable(string text) =>
        new(text.Take(40).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
