namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// Where an example writes its tables and pictures: docs/results in the repository when it runs from inside one (found by
/// walking up to Microsoft.ML.Ntk.sln), else a "results" folder in the current directory.
/// </summary>
public static class Results
{
    public static string Folder { get; } = Find();

    public static string PathOf(string file) => Path.Combine(Folder, file);

    /// <summary>Writes a markdown file with a header saying which command made it.</summary>
    public static void WriteMarkdown(string file, string title, string command, string body)
    {
        string text = $"# {title}\n\n_Written by `{command}`; rerun it to reproduce (seeded)._\n\n{body}";
        File.WriteAllText(PathOf(file), text);
        Console.WriteLine($"Wrote {PathOf(file)}");
    }

    /// <summary>A folder for cached pretrained networks, beside the example's binaries (never in the repository).</summary>
    public static string CacheFile(string name) => Path.Combine(AppContext.BaseDirectory, "cache", name);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Ntk.sln")))
                return Directory.CreateDirectory(Path.Combine(dir.FullName, "docs", "results")).FullName;
        return Directory.CreateDirectory(Path.Combine(Directory.GetCurrentDirectory(), "results")).FullName;
    }
}
