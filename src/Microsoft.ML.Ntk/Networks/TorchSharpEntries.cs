using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>
/// The names and shapes in a file written by TorchSharp's Module.save, read without loading the values, so that a file of
/// another architecture is refused naming the first differing entry: the entry count (7-bit encoded), then per entry its
/// name (a length-prefixed string), its element type and rank and dimensions (7-bit encoded), and its values.
/// </summary>
internal static class TorchSharpEntries
{
    public static Dictionary<string, long[]> Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        try
        {
            long count = Decode(reader);
            if (count is < 0 or > 1_000_000) throw new InvalidDataException($"'{path}' claims {count} entries.");
            var entries = new Dictionary<string, long[]>();
            for (long i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                var type = (ScalarType)Decode(reader);
                long rank = Decode(reader);
                if (rank is < 0 or > 16) throw new InvalidDataException($"'{path}': entry '{name}' claims rank {rank}.");
                var shape = new long[rank];
                for (int d = 0; d < rank; d++) shape[d] = Decode(reader);
                long bytes = shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(type, path, name);
                if (bytes < 0 || bytes > reader.BaseStream.Length - reader.BaseStream.Position)
                    throw new InvalidDataException($"'{path}' is cut short: entry '{name}' needs {bytes} bytes.");
                reader.BaseStream.Seek(bytes, SeekOrigin.Current);
                entries[name] = shape;
            }
            return entries;
        }
        catch (Exception ex) when (ex is EndOfStreamException or OverflowException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a readable TorchSharp weights file: {ex.Message}", ex);
        }
    }

    private static long ElementSize(ScalarType type, string path, string name)
    {
        if (!Enum.IsDefined(type)) throw new InvalidDataException($"'{path}': entry '{name}' has an unknown element type ({(int)type}).");
        using var probe = empty(1, dtype: type);
        return probe.ElementSize;
    }

    /// <summary>A 7-bit encoded integer (the low seven bits first, the high bit set while more bytes follow).</summary>
    private static long Decode(BinaryReader reader)
    {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = reader.ReadByte();
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new FormatException("a 7-bit encoded integer runs past 64 bits");
    }
}
