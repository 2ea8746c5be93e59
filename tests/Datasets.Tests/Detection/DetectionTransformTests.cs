using VisionRwkv.Datasets.Detection;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using VisionRwkv.Datasets;

namespace VisionRwkv.Datasets.Tests.Detection;

/// <summary>
/// Boxes must move exactly as the pixels do. Each test paints every object's box as a solid block of 1s in its own
/// channel (0 elsewhere), transforms image and boxes together, and finds each block again in the output: the box of the
/// pixels above 0.5 must equal the transformed box to within a pixel (the resampling blurs edges by under a pixel).
/// </summary>
public sealed class DetectionTransformTests
{
    private static readonly BoundingBox[] Boxes = [new(10, 6, 30, 26), new(44, 30, 60, 48), new(0, 40, 12, 50)];

    /// <summary>A 3-channel 64-wide, 50-high image; channel c holds box c painted as 1s.</summary>
    private static DetectionSample Painted()
    {
        var img = new ImageBuffer(3, 50, 64);
        for (var c = 0; c < 3; c++)
        {
            var b = Boxes[c];
            for (var y = (int)b.Y1; y < (int)b.Y2; y++)
            {
                for (var x = (int)b.X1; x < (int)b.X2; x++)
                    img[c, y, x] = 1;
            }
        }
        return DetectionSample.FromOriginal(img, [.. Boxes.Select((b, i) => new DetectionObject(b, i))]);
    }

    /// <summary>The box around the pixels of channel <paramref name="c"/> above 0.5 (pixel edges), or null.</summary>
    private static BoundingBox? Found(ImageBuffer img, int c)
    {
        int x1 = int.MaxValue, y1 = int.MaxValue, x2 = -1, y2 = -1;
        for (var y = 0; y < img.Height; y++)
        {
            for (var x = 0; x < img.Width; x++)
            {
                if (img[c, y, x] > 0.5f)
                {
                    (x1, y1, x2, y2) = (Math.Min(x1, x), Math.Min(y1, y), Math.Max(x2, x), Math.Max(y2, y));
                }
            }
        }
        return x2 < 0 ? null : new BoundingBox(x1, y1, x2 + 1, y2 + 1);
    }

    private static void AssertBoxesFollowPixels(DetectionSample outSample, double tol = 1.0)
    {
        foreach (var o in outSample.Objects)
        {
            var found = Found(outSample.Image, o.Label);
            Assert.True(found is not null, $"object {o.Label} kept but its pixels are gone");
            var f = found!.Value;
            Assert.True(Math.Abs(f.X1 - o.Box.X1) <= tol && Math.Abs(f.Y1 - o.Box.Y1) <= tol && Math.Abs(f.X2 - o.Box.X2) <= tol && Math.Abs(f.Y2 - o.Box.Y2) <= tol,
                $"object {o.Label}: box {o.Box}, pixels at {f}");
        }
    }

    [Theory]
    [InlineData(128, 128)] // upscale 2x, pad at the bottom
    [InlineData(40, 40)] // downscale, pad at the right
    [InlineData(50, 200)] // tall-and-wide mismatch: fit by height
    public void Letterbox_scales_boxes_with_the_pixels_and_pads_bottom_right(int h, int w)
    {
        var pad = new[] { 0.25f, 0.25f, 0.25f };
        var s = new LetterboxResize(h, w, Interpolation.Bilinear, pad).Apply(Painted(), new SeededRng(0));
        Assert.Equal((h, w), (s.Image.Height, s.Image.Width));
        Assert.Equal(3, s.Objects.Count);
        AssertBoxesFollowPixels(s);
        // The pad is the last row/column, filled with the pad value; the map puts the original corner at the content's corner.
        var scale = Math.Min(h / 50.0, w / 64.0);
        Assert.Equal(0.25f, s.Image[0, h - 1, w - 1]);
        var corner = s.Map.Apply(new BoundingBox(0, 0, 64, 50));
        Assert.Equal(Math.Round(64 * scale), corner.X2, 9);
        Assert.Equal(Math.Round(50 * scale), corner.Y2, 9);
    }

    [Fact]
    public void Horizontal_flip_mirrors_boxes_and_the_map_takes_them_back()
    {
        var input = Painted();
        var s = new RandomHorizontalFlip(1.0).Apply(input, new SeededRng(0));
        AssertBoxesFollowPixels(s, tol: 0);
        Assert.Equal(new BoundingBox(64 - 30, 6, 64 - 10, 26), s.Objects[0].Box);
        for (var i = 0; i < 3; i++)
        {
            var back = s.Map.Invert(s.Objects[i].Box);
            Assert.Equal(Boxes[i].X1, back.X1, 9);
            Assert.Equal(Boxes[i].X2, back.X2, 9);
        }
        // Probability 0 returns the sample untouched.
        Assert.Same(input, new RandomHorizontalFlip(0).Apply(input, new SeededRng(0)));
    }

    [Fact]
    public void Scale_jitter_crop_moves_boxes_with_pixels_and_drops_mostly_hidden_ones_by_the_visibility_rule()
    {
        var pad = new[] { 0f, 0f, 0f };
        var kept = 0;
        var dropped = 0;
        for (var seed = 0; seed < 60; seed++)
        {
            var input = Painted();
            var t = new RandomScaleCrop(48, 48, 0.5, 2.5, 0.4, Interpolation.Bilinear, pad);
            var s = t.Apply(input, new SeededRng((ulong)seed));
            Assert.Equal((48, 48), (s.Image.Height, s.Image.Width));
            AssertBoxesFollowPixels(s);
            for (var c = 0; c < 3; c++)
            {
                // What fraction of the object's (resized) box is inside the output: the rule decides from that.
                var full = s.Map.Apply(Boxes[c]);
                var visible = full.Clip(48, 48).Area / full.Area;
                var isKept = s.Objects.Any(o => o.Label == c);
                if (visible >= 0.4 + 0.02)
                    Assert.True(isKept, $"seed {seed}: object {c} with {visible:P0} visible was dropped");
                if (visible < 0.4 - 0.02)
                    Assert.False(isKept, $"seed {seed}: object {c} with {visible:P0} visible was kept");
                if (isKept)
                    kept++;
                else
                    dropped++;
            }
            // A kept box is clipped to the crop.
            Assert.All(s.Objects, o => Assert.True(o.Box.X1 >= 0 && o.Box.Y1 >= 0 && o.Box.X2 <= 48 && o.Box.Y2 <= 48));
        }
        Assert.True(kept > 20 && dropped > 10, $"the seeds should both keep and drop boxes (kept {kept}, dropped {dropped})");
    }

    [Fact]
    public void The_same_generator_state_gives_the_same_crop()
    {
        var t = new RandomScaleCrop(48, 48, 0.5, 2.5, 0.4, Interpolation.Bilinear, [0f, 0f, 0f]);
        var a = t.Apply(Painted(), new SeededRng(7));
        var b = t.Apply(Painted(), new SeededRng(7));
        Assert.Equal(a.Image.Data, b.Image.Data);
        Assert.Equal(a.Objects, b.Objects);
    }

    [Fact]
    public void Train_pipeline_composes_steps_and_its_map_inverts_to_the_original_boxes()
    {
        var data = new DataConfig(3, 40, 40, [0f, 0f, 0f], [1f, 1f, 1f], Interpolation.Bilinear, 1f);
        var pipe = DetectionPipeline.Train(data, new DetectionAugmentConfig { Scale = (0.8, 1.2), MinVisibility = 0.3, Hflip = 0.5, MinBoxSize = 1 });
        var flips = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var s = pipe.Apply(Painted(), new SeededRng((ulong)seed));
            AssertBoxesFollowPixels(s);
            if (s.Map.ScaleX < 0)
                flips++;
            foreach (var o in s.Objects)
            {
                // Uncropped boxes map back to the original exactly.
                var full = s.Map.Apply(Boxes[o.Label]);
                if (full.X1 >= 0 && full.Y1 >= 0 && full.X2 <= 40 && full.Y2 <= 40)
                {
                    var back = s.Map.Invert(o.Box);
                    Assert.Equal(Boxes[o.Label].X1, back.X1, 6);
                    Assert.Equal(Boxes[o.Label].Y2, back.Y2, 6);
                }
            }
        }
        Assert.InRange(flips, 3, 17);
    }

    [Fact]
    public void Pixel_steps_may_not_change_the_size()
    {
        var step = new PixelStep(new ResizeExact(10, 10, Interpolation.Bilinear));
        Assert.Throws<InvalidOperationException>(() => step.Apply(Painted(), new SeededRng(0)));
    }
}
