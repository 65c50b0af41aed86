using System.Globalization;
using System.Text;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>A markdown table, printed to the console and written into the repository's results.</summary>
public sealed class MarkdownTable(params string[] header)
{
    private readonly List<string[]> rows = new();

    public void Add(params string[] cells) => rows.Add(cells);

    public static string Number(double value, string format = "F3") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string WithError((double Mean, double StandardError) value, string format = "F3") =>
        $"{Number(value.Mean, format)} ± {Number(value.StandardError, format)}";

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", header) + " |");
        text.AppendLine("|" + string.Concat(header.Select(_ => " --- |")));
        foreach (var row in rows) text.AppendLine("| " + string.Join(" | ", row) + " |");
        return text.ToString();
    }
}
