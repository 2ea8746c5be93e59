using SkiaSharp;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Detection;

namespace VisionRwkv.Detection;

/// <summary>Draws detections onto a copy of their image as a PNG (what <c>rwkv detect predict</c> writes).</summary>
public static class DetectionDrawing
{
    private static readonly SKColor[] Palette =
    [
        new(230, 25, 75), new(60, 180, 75), new(255, 225, 25), new(0, 130, 200), new(245, 130, 48),
        new(145, 30, 180), new(70, 240, 240), new(240, 50, 230), new(210, 245, 60), new(250, 190, 212),
    ];

    /// <summary>
    /// Writes <paramref name="image"/> with every detection scoring at least <paramref name="minScore"/> as a coloured
    /// box and a "name score" label, to <paramref name="pngPath"/> (atomically). Small images are enlarged so that the
    /// labels stay legible.
    /// </summary>
    public static void Draw(string image, IEnumerable<CocoResult> detections, IReadOnlyList<CocoCategory> categories, string pngPath, double minScore = 0.3)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(categories);
        using var source = SKBitmap.Decode(image) ?? throw new InvalidDataException($"{image}: not an image SkiaSharp can decode");
        double zoom = Math.Max(1, Math.Ceiling(384.0 / Math.Max(source.Width, source.Height)));
        var info = new SKImageInfo((int)(source.Width * zoom), (int)(source.Height * zoom), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.Black);
        using (var sourceImage = SKImage.FromBitmap(source))
            canvas.DrawImage(sourceImage, new SKRect(0, 0, info.Width, info.Height), new SKSamplingOptions(SKFilterMode.Nearest));
        using var font = new SKFont(SKTypeface.Default, 12);
        using var stroke = new SKPaint { Style = SKPaintStyle.Stroke, StrokeWidth = 2, IsAntialias = true };
        using var fill = new SKPaint { Style = SKPaintStyle.Fill };
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        foreach (var d in detections.Where(d => d.Score >= minScore).OrderBy(d => d.Score))
        {
            int label = categories.Select((c, i) => (c, i)).FirstOrDefault(x => x.c.Id == d.CategoryId, (null!, -1)).Item2;
            var color = Palette[(label < 0 ? 0 : label) % Palette.Length];
            var rect = new SKRect((float)(d.Bbox.X * zoom), (float)(d.Bbox.Y * zoom), (float)((d.Bbox.X + d.Bbox.W) * zoom), (float)((d.Bbox.Y + d.Bbox.H) * zoom));
            stroke.Color = color;
            canvas.DrawRect(rect, stroke);
            var caption = $"{(label >= 0 ? categories[label].Name : d.CategoryId.ToString(System.Globalization.CultureInfo.InvariantCulture))} {d.Score:0.00}";
            var width = font.MeasureText(caption);
            fill.Color = color;
            canvas.DrawRect(new SKRect(rect.Left, rect.Top - 14, rect.Left + width + 4, rect.Top), fill);
            canvas.DrawText(caption, rect.Left + 2, rect.Top - 3, font, text);
        }
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(pngPath, f => png.SaveTo(f));
    }
}
