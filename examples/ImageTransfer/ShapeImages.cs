using SkiaSharp;

namespace Microsoft.ML.Ntk.Examples.ImageTransfer;

/// <summary>One image file and its class.</summary>
public sealed class ImageFile
{
    public string Path { get; set; } = "";
    public string Shape { get; set; } = "";
}

/// <summary>
/// Generated images of five shapes, 32×32 PNG. The source domain is plain: a light grey shape, upright, on a near-black
/// background. The target
/// domain is shifted in colour (a random hue on a dark random background), texture (faint background stripes), rotation
/// (±30°) and noise (Gaussian, σ = 12 of 255): the same classes, seen differently.
/// </summary>
public static class ShapeImages
{
    public static readonly string[] Classes = { "square", "disc", "triangle", "cross", "bar" };
    public const int Size = 32;

    public static ImageFile[] Write(string folder, string domain, int perClass, int seed)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var files = new List<ImageFile>();
        for (int i = 0; i < perClass; i++)
            for (int c = 0; c < Classes.Length; c++)
            {
                string path = System.IO.Path.Combine(folder, $"{domain}-{seed}-{i}-{Classes[c]}.png");
                if (!File.Exists(path)) Draw(path, c, domain == "target", random);
                else random.Next();   // keep the draws of later files independent of the cache
                files.Add(new ImageFile { Path = path, Shape = Classes[c] });
            }
        return files.ToArray();
    }

    private static void Draw(string path, int shape, bool shifted, Random random)
    {
        using var bitmap = new SKBitmap(Size, Size);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(shifted ? Hue(random, 0.12f) : Gray(random, 0, 0.15));
            if (shifted) Stripes(canvas, random);
            float scale = 8 + 4 * (float)random.NextDouble();
            canvas.Translate(Size / 2f + (float)(random.NextDouble() * 8 - 4), Size / 2f + (float)(random.NextDouble() * 8 - 4));
            if (shifted) canvas.RotateDegrees((float)(random.NextDouble() * 60 - 30));
            using var paint = new SKPaint { Color = shifted ? Hue(random, 0.95f) : Gray(random, 0.6, 1.0), IsAntialias = true, Style = SKPaintStyle.Fill };
            DrawShape(canvas, shape, scale, paint);
        }
        if (shifted) AddNoise(bitmap, random, 12);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }

    private static void DrawShape(SKCanvas canvas, int shape, float s, SKPaint paint)
    {
        switch (shape)
        {
            case 0: canvas.DrawRect(-s, -s, 2 * s, 2 * s, paint); break;
            case 1: canvas.DrawCircle(0, 0, s, paint); break;
            case 2:
                using (var path = new SKPath())
                {
                    path.MoveTo(0, -s);
                    path.LineTo(s, s);
                    path.LineTo(-s, s);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }
                break;
            case 3:
                canvas.DrawRect(-s, -s / 3, 2 * s, 2 * s / 3, paint);
                canvas.DrawRect(-s / 3, -s, 2 * s / 3, 2 * s, paint);
                break;
            default: canvas.DrawRect(-s / 3, -s, 2 * s / 3, 2 * s, paint); break;
        }
    }

    private static void Stripes(SKCanvas canvas, Random random)
    {
        using var paint = new SKPaint { Color = Hue(random, 0.3f), StrokeWidth = 1 };
        int gap = 4 + random.Next(4);
        for (int x = -Size; x < 2 * Size; x += gap) canvas.DrawLine(x, 0, x + Size / 2f, Size, paint);
    }

    private static SKColor Gray(Random random, double low, double high)
    {
        byte v = (byte)(255 * (low + (high - low) * random.NextDouble()));
        return new SKColor(v, v, v);
    }

    private static SKColor Hue(Random random, float value) =>
        SKColor.FromHsv((float)(random.NextDouble() * 360), 30 + (float)random.NextDouble() * 50, value * 100);

    private static void AddNoise(SKBitmap bitmap, Random random, double sigma)
    {
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                byte Noisy(byte v) => (byte)Math.Clamp(v + sigma * OneDimensionalRegression.Gaussian(random), 0, 255);
                bitmap.SetPixel(x, y, new SKColor(Noisy(c.Red), Noisy(c.Green), Noisy(c.Blue)));
            }
    }
}
