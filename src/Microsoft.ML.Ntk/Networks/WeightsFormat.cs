using System.IO.Compression;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>The kinds of weight files we read, recognised from their content rather than their name.</summary>
internal enum WeightsFormat
{
    /// <summary>A PyTorch state_dict written by torch.save (a zip archive holding data.pkl).</summary>
    PyTorchStateDict,
    /// <summary>A safetensors file: an 8-byte header length, then a JSON header.</summary>
    Safetensors,
    /// <summary>A whole TorchScript module (torch.jit.save): a zip archive holding code/ and constants.pkl.</summary>
    TorchScript,
    /// <summary>TorchSharp's own Module.save format.</summary>
    TorchSharp,
}

internal static class WeightsFormats
{
    /// <summary>The format of <paramref name="path"/>, or a clear error naming the file when it is none of them.</summary>
    public static WeightsFormat Detect(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The weights file '{path}' does not exist.", path);
        byte[] head = new byte[64];
        int read;
        using (var stream = File.OpenRead(path)) read = stream.Read(head, 0, head.Length);
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K') return ZipKind(path);
        if (read >= 9 && BitConverter.ToUInt64(head, 0) is > 1 and < (1UL << 31) && head[8] == (byte)'{') return WeightsFormat.Safetensors;
        if (LooksLikeTorchSharp(head, read)) return WeightsFormat.TorchSharp;
        throw new InvalidDataException($"'{path}' is not a weights file this library reads: expected a PyTorch state_dict (torch.save), " +
                                       "a safetensors file, a TorchScript module or a TorchSharp Module.save file.");
    }

    /// <summary>TorchSharp's Module.save: a 7-bit encoded entry count, then the first name as a 7-bit encoded length and ASCII.</summary>
    private static bool LooksLikeTorchSharp(byte[] head, int read)
    {
        int position = 0;
        int? count = SevenBit(head, read, ref position), length = SevenBit(head, read, ref position);
        if (count is not > 0 || length is not (> 0 and < 256) || position + length > read) return false;
        for (int i = position; i < position + length; i++)
            if (head[i] < 0x21 || head[i] > 0x7E) return false;
        return true;
    }

    private static int? SevenBit(byte[] bytes, int read, ref int position)
    {
        int value = 0;
        for (int shift = 0; shift < 28 && position < read; shift += 7)
        {
            byte b = bytes[position++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        return null;
    }

    private static WeightsFormat ZipKind(string path)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var names = archive.Entries.Select(e => e.FullName).ToList();
            if (names.Any(n => n.Contains("/code/", StringComparison.Ordinal) || n.EndsWith("/constants.pkl", StringComparison.Ordinal)))
                return WeightsFormat.TorchScript;
            if (names.Any(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) || n == "data.pkl")) return WeightsFormat.PyTorchStateDict;
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}' starts like a zip archive but cannot be read as one: {ex.Message}", ex);
        }
        throw new InvalidDataException($"'{path}' is a zip archive but neither a PyTorch state_dict nor a TorchScript module.");
    }
}
