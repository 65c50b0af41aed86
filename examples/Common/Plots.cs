using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>PNG plots of the examples (OxyPlot drawn with SkiaSharp).</summary>
public static class Plots
{
    /// <summary>A regression panel: the truth, the training points, a mean with its ±2σ band, and other curves.</summary>
    public sealed record Panel(string Title, double[] X, double[] Truth, double[] TrainX, double[] TrainY, double[] Mean, double[] Variance,
                               IReadOnlyList<(string Name, double[] Y)> Others);

    public static PlotModel Regression(Panel panel, string meanName)
    {
        var model = new PlotModel { Title = panel.Title, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopRight, LegendFontSize = 9 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "x" });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "y" });
        var band = new AreaSeries { Title = "±2σ", Color = OxyColor.FromAColor(60, OxyColors.SteelBlue), StrokeThickness = 0 };
        for (int i = 0; i < panel.X.Length; i++)
        {
            double s = 2 * Math.Sqrt(Math.Max(panel.Variance[i], 0));
            band.Points.Add(new DataPoint(panel.X[i], panel.Mean[i] + s));
            band.Points2.Add(new DataPoint(panel.X[i], panel.Mean[i] - s));
        }
        model.Series.Add(band);
        model.Series.Add(Line("truth", panel.X, panel.Truth, OxyColors.Black, LineStyle.Dash));
        model.Series.Add(Line(meanName, panel.X, panel.Mean, OxyColors.SteelBlue, LineStyle.Solid));
        var colors = new[] { OxyColors.OrangeRed, OxyColors.SeaGreen, OxyColors.Purple, OxyColors.Gray };
        for (int o = 0; o < panel.Others.Count; o++)
            model.Series.Add(Line(panel.Others[o].Name, panel.X, panel.Others[o].Y, colors[o % colors.Length], LineStyle.Solid));
        var points = new ScatterSeries { Title = "training points", MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = OxyColors.Black };
        for (int i = 0; i < panel.TrainX.Length; i++) points.Points.Add(new ScatterPoint(panel.TrainX[i], panel.TrainY[i]));
        model.Series.Add(points);
        return model;
    }

    /// <summary>A reliability diagram: accuracy against confidence per bin, one line per method, and the diagonal.</summary>
    public static PlotModel Reliability(string title, IReadOnlyList<(string Name, Metrics.ReliabilityBin[] Bins)> methods)
    {
        var model = new PlotModel { Title = title, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopLeft, LegendFontSize = 9 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "confidence", Minimum = 0, Maximum = 1 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "accuracy", Minimum = 0, Maximum = 1 });
        model.Series.Add(Line("calibrated", new[] { 0.0, 1.0 }, new[] { 0.0, 1.0 }, OxyColors.Gray, LineStyle.Dash));
        var colors = new[] { OxyColors.SteelBlue, OxyColors.OrangeRed, OxyColors.SeaGreen, OxyColors.Purple, OxyColors.Goldenrod };
        for (int m = 0; m < methods.Count; m++)
        {
            var used = methods[m].Bins.Where(b => b.Count > 0).ToArray();
            var series = Line(methods[m].Name, used.Select(b => b.Confidence).ToArray(), used.Select(b => b.Accuracy).ToArray(), colors[m % colors.Length], LineStyle.Solid);
            series.MarkerType = MarkerType.Circle;
            model.Series.Add(series);
        }
        return model;
    }

    /// <summary>Writes the panels side by side (columns × rows grid) into one PNG.</summary>
    public static void Save(string path, IReadOnlyList<PlotModel> panels, int columns, int panelWidth = 480, int panelHeight = 340)
    {
        int rows = (panels.Count + columns - 1) / columns;
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(columns * panelWidth, rows * panelHeight));
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        for (int i = 0; i < panels.Count; i++)
        {
            using var stream = new MemoryStream();
            new OxyPlot.SkiaSharp.PngExporter { Width = panelWidth, Height = panelHeight }.Export(panels[i], stream);
            stream.Position = 0;
            using var bitmap = SkiaSharp.SKBitmap.Decode(stream);
            surface.Canvas.DrawBitmap(bitmap, i % columns * panelWidth, i / columns * panelHeight);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
        Console.WriteLine($"Wrote {path}");
    }

    private static LineSeries Line(string title, double[] x, double[] y, OxyColor color, LineStyle style)
    {
        var series = new LineSeries { Title = title, Color = color, LineStyle = style, StrokeThickness = 1.8 };
        for (int i = 0; i < x.Length; i++) series.Points.Add(new DataPoint(x[i], y[i]));
        return series;
    }
}
