using SkiaSharp;
using VisionRwkv.Datasets;
using VisionRwkv.Explain;

namespace VisionRwkv.Tests.Explain;

public sealed class PointingGameTests
{
    [Fact]
    public void The_peak_is_the_first_maximum_in_row_major_order()
    {
        var map = new float[,] { { 0f, 0.5f, 1f }, { 1f, 0.2f, 1f } };
        Assert.Equal((0, 2), Saliency.Peak(map));
        Assert.True(PointingGame.Hit(map, 2, 0, 3, 1));     // x0,y0,x1,y1 half-open: only pixel (0,2)
        Assert.False(PointingGame.Hit(map, 0, 1, 3, 2));    // the second row's maxima do not count
    }

    [Fact]
    public void A_model_pixel_maps_back_through_the_eval_resize_and_centre_crop()
    {
        // 56x40 (W x H) with Fashion-MNIST's eval transform (28x28, crop 1): the shorter side 40 → 28, the width
        // 56 → floor(28·56/40) = 39, centre crop left = round((39-28)/2) = 6 (half to even), top 0. Model pixel
        // (y, x) → original ((y + 0.5)·40/28, (x + 6 + 0.5)·56/39), floored.
        var path = Path.Combine(Path.GetTempPath(), $"geometry-{Guid.NewGuid():N}.png");
        try
        {
            using (var bmp = new SKBitmap(56, 40, SKColorType.Gray8, SKAlphaType.Opaque))
            {
                using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(path, data.ToArray());
            }
            var prepared = PreparedImage.Load(path, DataConfig.FashionMnist());
            Assert.Equal((1, 28, 28), (prepared.Input.Channels, prepared.Input.Height, prepared.Input.Width));
            Assert.Equal((40, 56), (prepared.OriginalHeight, prepared.OriginalWidth));
            Assert.Equal((0, 9), prepared.ToOriginal(0, 0));       // (0.5·40/28, 6.5·56/39) = (0.71, 9.33)
            Assert.Equal((39, 48), prepared.ToOriginal(27, 27));   // (27.5·40/28, 33.5·56/39) = (39.29, 48.10)
            Assert.Equal((20, 29), prepared.ToOriginal(14, 14));   // (14.5·40/28, 20.5·56/39) = (20.71, 29.44)
        }
        finally
        {
            File.Delete(path);
        }
    }
}
