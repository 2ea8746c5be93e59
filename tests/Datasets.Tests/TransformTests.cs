using TorchSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;
using VisionRwkv.Datasets;
using static TorchSharp.torch;

namespace VisionRwkv.Datasets.Tests;

public sealed class TransformTests
{
    private static ImageBuffer Random(int c, int h, int w, ulong seed)
    {
        var rng = new SeededRng(seed);
        var img = new ImageBuffer(c, h, w);
        for (var i = 0; i < img.Data.Length; i++)
            img.Data[i] = (float)rng.NextDouble();
        return img;
    }

    [Theory]
    [InlineData(Interpolation.Bilinear, 97, 131, 24, 40)]   // strong downscale, non-square
    [InlineData(Interpolation.Bicubic, 97, 131, 24, 40)]
    [InlineData(Interpolation.Bilinear, 20, 30, 53, 71)]    // upscale
    [InlineData(Interpolation.Bicubic, 20, 30, 53, 71)]
    [InlineData(Interpolation.Bicubic, 64, 64, 37, 90)]     // down in one axis, up in the other
    public void Resize_matches_libtorch_antialiased_interpolate(Interpolation mode, int h, int w, int oh, int ow)
    {
        var img = Random(3, h, w, 42);
        var ours = Resampler.Resize(img, oh, ow, mode);
        using var x = tensor(img.Data, [1, 3, h, w]);
        using var y = nn.functional.interpolate(x, [oh, ow], mode: mode == Interpolation.Bilinear ? InterpolationMode.Bilinear : InterpolationMode.Bicubic,
            align_corners: false, antialias: true);
        var reference = y.contiguous().data<float>().ToArray();
        Assert.Equal(reference.Length, ours.Data.Length);
        for (var i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(reference[i] - ours.Data[i]) < 2e-5, $"element {i}: libtorch {reference[i]}, ours {ours.Data[i]}");
    }

    [Theory]
    [InlineData(Interpolation.Bilinear)]
    [InlineData(Interpolation.Bicubic)]
    public void Resize_of_a_constant_image_stays_constant(Interpolation mode)
    {
        var img = new ImageBuffer(3, 50, 70);
        Array.Fill(img.Data, 0.37f);
        foreach (var (oh, ow) in new[] { (7, 11), (50, 33), (120, 91) })
        {
            var r = Resampler.Resize(img, oh, ow, mode);
            Assert.All(r.Data, v => Assert.Equal(0.37f, v, 1e-5f));
        }
    }

    [Fact]
    public void Resizing_a_region_equals_cropping_then_resizing()
    {
        var img = Random(2, 60, 80, 3);
        var direct = Resampler.Resize(img, 17, 23, Interpolation.Bicubic, 11, 7, 41, 33);
        var viaCrop = Resampler.Resize(Resampler.Crop(img, 11, 7, 41, 33), 17, 23, Interpolation.Bicubic);
        Assert.Equal(viaCrop.Data, direct.Data);
    }

    [Theory]
    [InlineData(480, 640, 256, 224)]
    [InlineData(640, 480, 256, 224)]
    [InlineData(301, 299, 32, 28)]
    [InlineData(100, 120, 256, 224)] // upscaling
    [InlineData(50, 60, 20, 28)]     // crop larger than the resize: padded
    public void Fused_resize_and_center_crop_equals_the_two_steps(int h, int w, int shorter, int crop)
    {
        var img = Random(3, h, w, 12);
        var fused = new ResizeCenterCrop(shorter, 0, 0, crop, crop, Interpolation.Bicubic).Apply(img.Clone(), new SeededRng(0));
        var twoStep = new CenterCrop(crop, crop).Apply(new ResizeShorterSide(shorter, Interpolation.Bicubic).Apply(img.Clone(), new SeededRng(0)), new SeededRng(0));
        Assert.Equal((twoStep.Height, twoStep.Width), (fused.Height, fused.Width));
        Assert.Equal(twoStep.Data, fused.Data);
        var exact = new ResizeCenterCrop(0, 40, 70, 30, 50, Interpolation.Bilinear).Apply(img.Clone(), new SeededRng(0));
        var exactRef = new CenterCrop(30, 50).Apply(new ResizeExact(40, 70, Interpolation.Bilinear).Apply(img.Clone(), new SeededRng(0)), new SeededRng(0));
        Assert.Equal(exactRef.Data, exact.Data);
    }

    [Fact]
    public void Resize_shorter_side_keeps_the_aspect_ratio()
    {
        var r = new ResizeShorterSide(256, Interpolation.Bilinear).Apply(Random(3, 480, 640, 1), new SeededRng(0));
        Assert.Equal((256, 341), (r.Height, r.Width));
        r = new ResizeShorterSide(256, Interpolation.Bilinear).Apply(Random(3, 640, 480, 1), new SeededRng(0));
        Assert.Equal((341, 256), (r.Height, r.Width));
    }

    [Fact]
    public void Flips_are_involutions_and_move_pixels_to_the_mirror_position()
    {
        var img = Random(3, 9, 14, 7);
        var copy = img.Clone();
        RandomFlip.Flip(img, vertical: false);
        Assert.Equal(copy[1, 2, 0], img[1, 2, 13]);
        RandomFlip.Flip(img, vertical: false);
        Assert.Equal(copy.Data, img.Data);
        RandomFlip.Flip(img, vertical: true);
        Assert.Equal(copy[2, 0, 5], img[2, 8, 5]);
        RandomFlip.Flip(img, vertical: true);
        Assert.Equal(copy.Data, img.Data);
    }

    [Fact]
    public void Normalize_subtracts_the_mean_and_divides_by_the_std_per_channel()
    {
        var img = Random(3, 4, 5, 9);
        var copy = img.Clone();
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        new Normalize(mean, std).Apply(img, new SeededRng(0));
        for (var c = 0; c < 3; c++)
        {
            for (var i = 0; i < 20; i++)
                Assert.Equal((copy.Data[c * 20 + i] - mean[c]) / std[c], img.Data[c * 20 + i], 1e-5f);
        }
    }

    [Fact]
    public void Grayscale_conversion_uses_luma_and_replicates_grey()
    {
        var rgb = new ImageBuffer(3, 1, 1, [1f, 0.5f, 0.25f]);
        var grey = ToChannels.Convert(rgb, 1);
        Assert.Equal(0.299f + 0.587f * 0.5f + 0.114f * 0.25f, grey.Data[0], 1e-6f);
        var back = ToChannels.Convert(grey, 3);
        Assert.Equal([grey.Data[0], grey.Data[0], grey.Data[0]], back.Data);
    }

    [Fact]
    public void Center_crop_takes_the_middle_and_pads_when_too_small()
    {
        var img = new ImageBuffer(1, 5, 6);
        for (var i = 0; i < 30; i++)
            img.Data[i] = i;
        var c = new CenterCrop(3, 2).Apply(img, new SeededRng(0));
        // top = round((5-3)/2) = 1, left = round((6-2)/2) = 2
        Assert.Equal([8f, 9f, 14f, 15f, 20f, 21f], c.Data);
        var padded = new CenterCrop(7, 6).Apply(img, new SeededRng(0));
        Assert.Equal(0f, padded[0, 0, 0]);
        Assert.Equal(img[0, 0, 0], padded[0, 1, 0]);
    }

    [Fact]
    public void Random_resized_crop_windows_stay_inside_and_respect_scale_and_ratio()
    {
        var rrc = new RandomResizedCrop(32, 32, (0.08, 1.0), (3.0 / 4, 4.0 / 3), Interpolation.Bilinear);
        var rng = new SeededRng(11);
        for (var i = 0; i < 500; i++)
        {
            var (x, y, w, h) = rrc.SampleWindow(300, 400, rng);
            Assert.InRange(x, 0, 400 - w);
            Assert.InRange(y, 0, 300 - h);
            var area = (double)w * h / (300 * 400);
            Assert.InRange(area, 0.07, 1.0);
            Assert.InRange((double)w / h, 0.7, 1.4);
        }
        var a = rrc.Apply(Random(3, 300, 400, 1), new SeededRng(5));
        var b = rrc.Apply(Random(3, 300, 400, 1), new SeededRng(5));
        Assert.Equal((3, 32, 32), (a.Channels, a.Height, a.Width));
        Assert.Equal(a.Data, b.Data);
    }

    [Fact]
    public void Color_jitter_is_reproducible_keeps_range_and_leaves_grey_saturation_alone()
    {
        var jitter = new ColorJitter(0.4, 0.4, 0.4);
        var a = jitter.Apply(Random(3, 20, 20, 2), new SeededRng(8));
        var b = jitter.Apply(Random(3, 20, 20, 2), new SeededRng(8));
        Assert.Equal(a.Data, b.Data);
        Assert.All(a.Data, v => Assert.InRange(v, 0f, 1f));
        var grey = new ImageBuffer(3, 4, 4);
        Array.Fill(grey.Data, 0.5f);
        new ColorJitter(0, 0, 0.9).Apply(grey, new SeededRng(1));
        Assert.All(grey.Data, v => Assert.Equal(0.5f, v, 1e-6f));
    }

    [Fact]
    public void Rand_augment_parses_timm_policy_strings()
    {
        var ra = RandAugment.Parse("rand-m9-mstd0.5", [0.5f, 0.5f, 0.5f]);
        Assert.Equal((9.0, 0.5, 2, 0.5), (ra.Magnitude, ra.MagnitudeStd, ra.NumLayers, ra.Probability));
        var ra2 = RandAugment.Parse("rand-m7-n3-mstd1.0-mmax12", [0.5f]);
        Assert.Equal((7.0, 1.0, 3, 12.0), (ra2.Magnitude, ra2.MagnitudeStd, ra2.NumLayers, ra2.MagnitudeMax));
        Assert.Throws<ArgumentException>(() => RandAugment.Parse("augmix-m5", [0.5f]));
        Assert.Throws<ArgumentException>(() => RandAugment.Parse("rand-q9", [0.5f]));
    }

    [Fact]
    public void Every_rand_augment_op_keeps_shape_and_range()
    {
        var ra = RandAugment.Parse("rand-m9-mstd0.5", [0.485f, 0.456f, 0.406f]);
        foreach (var op in RandAugment.OpNames)
        {
            foreach (var level in new[] { 0.0, 0.5, 1.0 })
            {
                var r = ra.ApplyOp(op, Random(3, 24, 30, 4), level, new SeededRng(1));
                Assert.Equal((3, 24, 30), (r.Channels, r.Height, r.Width));
                Assert.All(r.Data, v => Assert.InRange(v, -1e-6f, 1 + 1e-6f));
            }
        }
    }

    [Fact]
    public void Rand_augment_ops_do_what_their_names_say()
    {
        var ra = RandAugment.Parse("rand-m9", [0f, 0f, 0f]);
        var img = new ImageBuffer(1, 2, 2, [0f, 100 / 255f, 200 / 255f, 1f]);
        // Invert twice is the identity; Invert maps v to 1 - v on the 8-bit grid.
        var inv = ra.ApplyOp("Invert", img.Clone(), 0.9, new SeededRng(0));
        Assert.Equal([1f, 155 / 255f, 55 / 255f, 0f], inv.Data);
        // Solarize at level 0: threshold 0, every pixel inverted.
        Assert.Equal(inv.Data, ra.ApplyOp("Solarize", img.Clone(), 0, new SeededRng(0)).Data);
        // Posterize at level 0.5 keeps 2 bits: 100 -> 64, 200 -> 192.
        Assert.Equal([0f, 64 / 255f, 192 / 255f, 192 / 255f], ra.ApplyOp("Posterize", img.Clone(), 0.5, new SeededRng(0)).Data);
        // AutoContrast stretches [0.2, 0.6] to [0, 1].
        var low = new ImageBuffer(1, 1, 3, [0.2f, 0.4f, 0.6f]);
        Assert.Equal([0f, 0.5f, 1f], ra.ApplyOp("AutoContrast", low, 0, new SeededRng(0)).Data.Select(v => MathF.Round(v, 5)));
        // Translating by 45% moves content and fills with the mean (0 here).
        var ones = new ImageBuffer(1, 10, 20);
        Array.Fill(ones.Data, 1f);
        var moved = ra.ApplyOp("TranslateXRel", ones, 1.0, new SeededRng(3));
        Assert.Equal(10 * 9, moved.Data.Count(v => v < 1e-6f));
    }

    [Fact]
    public void Random_erasing_replaces_one_rectangle_of_two_to_thirty_three_percent()
    {
        for (ulong seed = 0; seed < 20; seed++)
        {
            var img = new ImageBuffer(3, 40, 50);
            Array.Fill(img.Data, 7f);
            new RandomErasing(1.0).Apply(img, new SeededRng(seed));
            var changed = Enumerable.Range(0, 2000).Count(i => img.Data[i] != 7f);
            Assert.InRange(changed / 2000.0, 0.015, 0.36);
        }
    }

    [Fact]
    public void Eval_pipeline_resizes_by_crop_pct_then_center_crops()
    {
        var p = ImagePipeline.Eval(DataConfig.ImageNet());
        Assert.Equal(256, p.Decode.MinShorterSide);
        var outp = p.Apply(Random(3, 480, 640, 1), new SeededRng(0));
        Assert.Equal((3, 224, 224), (outp.Channels, outp.Height, outp.Width));
        // Independent reference: LibTorch's antialiased bicubic resize of the shorter side to 256 (256x341), the middle
        // 224 cropped (torchvision rounds (341 - 224) / 2 = 58.5 half to even: left 58, top 16), normalised per channel.
        var src = Random(3, 480, 640, 1);
        using var x = tensor(src.Data, [1, 3, 480, 640]);
        using var resized = nn.functional.interpolate(x, [256, 341], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true);
        using var crop = resized[.., .., 16..240, 58..282].contiguous();            // [1,3,224,224]
        var reference = crop.data<float>().ToArray();
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        double worst = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 224; y++)
                for (int xx = 0; xx < 224; xx++)
                    worst = Math.Max(worst, Math.Abs((reference[(ch * 224 + y) * 224 + xx] - mean[ch]) / std[ch] - outp[ch, y, xx]));
        Assert.True(worst < 1e-4, $"largest difference from LibTorch's resize + crop + normalise: {worst}");
    }

    [Fact]
    public void Train_pipeline_has_the_config_shape_and_is_reproducible()
    {
        var data = DataConfig.ImageNet().WithSize(64);
        var p = ImagePipeline.Train(data, AugmentConfig.Strong);
        var a = p.Apply(Random(1, 100, 90, 2), SeededRng.For(1, 0, 5));
        var b = p.Apply(Random(1, 100, 90, 2), SeededRng.For(1, 0, 5));
        var c = p.Apply(Random(1, 100, 90, 2), SeededRng.For(1, 1, 5));
        Assert.Equal((3, 64, 64), (a.Channels, a.Height, a.Width));
        Assert.Equal(a.Data, b.Data);
        Assert.NotEqual(a.Data, c.Data);
    }

    [Fact]
    public void Data_config_validation_names_the_bad_field()
    {
        var e = Assert.Throws<ArgumentException>(() => (DataConfig.ImageNet() with { Mean = [0.5f] }).Validate());
        Assert.Contains("Mean", e.Message);
        Assert.Equal(28, DataConfig.FashionMnist().EvalResizeShorterSide);
        Assert.Equal(256, DataConfig.ImageNet().EvalResizeShorterSide);
    }
}
