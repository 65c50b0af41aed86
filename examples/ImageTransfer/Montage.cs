using SkiaSharp;

namespace Microsoft.ML.Ntk.Examples.ImageTransfer;

/// <summary>A grid of images, enlarged, as one PNG.</summary>
public static class Montage
{
    public static void Save(string path, string[] images, int columns, int scale = 3)
    {
        int size = ShapeImages.Size * scale, rows = (images.Length + columns - 1) / columns;
        using var surface = SKSurface.Create(new SKImageInfo(columns * size, rows * size));
        surface.Canvas.Clear(SKColors.White);
        for (int i = 0; i < images.Length; i++)
        {
            using var bitmap = SKBitmap.Decode(images[i]);
            surface.Canvas.DrawBitmap(bitmap, new SKRect(i % columns * size, i / columns * size, (i % columns + 1) * size, (i / columns + 1) * size));
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
        Console.WriteLine($"Wrote {path}");
    }
}
