using System.IO.Compression;
using Microsoft.ML.Ntk.Tests.Linearization;

namespace Microsoft.ML.Ntk.Tests.Networks;

/// <summary>The TorchScript fixture with its entries changed, written as a valid zip (uncompressed), for the damage tests.</summary>
internal static class DamagedTorchScript
{
    /// <summary>Writes <paramref name="path"/>: each entry of the fixture through <paramref name="change"/> (null drops it).</summary>
    public static string Write(string path, Func<string, byte[], byte[]?> change)
    {
        using var source = ZipFile.OpenRead(TestNetworks.Fixture("mlp_tanh.torchscript.pt"));
        using var target = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var entry in source.Entries)
        {
            using var input = entry.Open();
            var copy = new MemoryStream();
            input.CopyTo(copy);
            byte[]? data = change(entry.FullName, copy.ToArray());
            if (data is null) continue;
            using var output = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
            output.Write(data);
        }
        return path;
    }

    /// <summary>The entry's text with one string replaced.</summary>
    public static byte[] Replace(byte[] data, string from, string to) =>
        System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(data).Replace(from, to));
}
