using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Ntk.Networks;

/// <summary>
/// Checks a TorchScript archive before libtorch parses it. libtorch reports some damage with an exception that TorchSharp
/// does not catch, which ends the process; what can be checked here is refused first with a managed error: the archive
/// must open and hold data.pkl and code/, every entry must read back intact (the zip checksums), and every TorchScript
/// class the pickled module or the code names (__torch__.…) must have its code file. What cannot be checked without
/// libtorch is whether valid-looking code calls an operator libtorch has: an archive whose code was edited to call one
/// that does not exist still aborts the process inside libtorch (a limit stated in the README).
/// </summary>
internal static partial class TorchScriptArchive
{
    public static void Check(string path, string what)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entries = zip.Entries.Where(e => !e.FullName.EndsWith('/')).ToDictionary(e => e.FullName, e => e);
            string root = entries.Keys.Select(k => k.Split('/')[0]).FirstOrDefault() ?? "";
            if (!entries.ContainsKey($"{root}/data.pkl"))
                throw new InvalidDataException($"{what} is damaged: its TorchScript archive has no {root}/data.pkl.");
            var code = new Dictionary<string, string>();
            foreach (var (name, entry) in entries)
            {
                byte[] bytes = ReadIntact(entry, what);
                if (name.StartsWith($"{root}/code/", StringComparison.Ordinal) && name.EndsWith(".py", StringComparison.Ordinal))
                    code[name[($"{root}/code/".Length)..^3].Replace('/', '.')] = Encoding.UTF8.GetString(bytes);
                if (name == $"{root}/data.pkl") foreach (var cls in PickledClasses(bytes)) Require(code, entries, root, cls, what, "data.pkl");
            }
            if (code.Count == 0) throw new InvalidDataException($"{what} is damaged: its TorchScript archive has no code.");
            foreach (var (module, text) in code)
                foreach (Match m in ClassReference().Matches(text)) Require(code, entries, root, m.Value, what, module.Replace('.', '/') + ".py");
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith(what, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what} is not a readable TorchScript archive: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A class __torch__.a.b.C lives in code/__torch__/a/b.py; a longer name (a method, a nested class) in the file of one
    /// of its prefixes.
    /// </summary>
    private static void Require(Dictionary<string, string> code, Dictionary<string, ZipArchiveEntry> entries, string root, string qualified,
                                string what, string referrer)
    {
        int dot = qualified.LastIndexOf('.');
        if (dot <= 0) return;
        string module = qualified[..dot];
        for (string prefix = module; prefix.Contains('.'); prefix = prefix[..prefix.LastIndexOf('.')])
            if (code.ContainsKey(prefix) || entries.ContainsKey($"{root}/code/{prefix.Replace('.', '/')}.py")) return;
        throw new InvalidDataException($"{what} is damaged: {referrer} names the TorchScript class {qualified}, but the archive has no " +
                                       $"code/{module.Replace('.', '/')}.py.");
    }

    private static byte[] ReadIntact(ZipArchiveEntry entry, string what)
    {
        using var stream = entry.Open();
        var copy = new MemoryStream();
        stream.CopyTo(copy);   // .NET checks each entry's CRC-32 as it reads it
        if (copy.Length != entry.Length)
            throw new InvalidDataException($"{what} is damaged: the entry {entry.FullName} holds {copy.Length} bytes, not {entry.Length}.");
        return copy.ToArray();
    }

    /// <summary>The __torch__ classes a pickle names with its GLOBAL opcode ('c', then "module\nname\n").</summary>
    private static IEnumerable<string> PickledClasses(byte[] pickle)
    {
        string text = Encoding.Latin1.GetString(pickle);
        foreach (Match m in PickledGlobal().Matches(text)) yield return m.Groups[1].Value + "." + m.Groups[2].Value;
    }

    [GeneratedRegex(@"c(__torch__(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\n([A-Za-z_][A-Za-z0-9_]*)\n")]
    private static partial Regex PickledGlobal();

    [GeneratedRegex(@"__torch__(?:\.[A-Za-z_][A-Za-z0-9_]*)+")]
    private static partial Regex ClassReference();
}
