using System.Text.Json;
using SkiaSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Detection;

/// <summary>Settings of the synthetic detection set; the same settings always give the same files.</summary>
public sealed record SyntheticDetectionOptions
{
    /// <summary>Square canvas side in pixels.</summary>
    public int ImageSize { get; init; } = 128;

    public int TrainImages { get; init; } = 2000;

    public int ValImages { get; init; } = 200;

    public int TestImages { get; init; } = 500;

    public int MinObjects { get; init; } = 1;

    public int MaxObjects { get; init; } = 8;

    /// <summary>Side of a pasted 28×28 item, drawn log-uniformly from this range (pixels).</summary>
    public (int Min, int Max) ObjectSize { get; init; } = (20, 64);

    /// <summary>A new object is placed only where its box overlaps every earlier one by at most this IoU.</summary>
    public double MaxOverlapIoU { get; init; } = 0.1;

    /// <summary>
    /// ... and covers at most this fraction of either box: without it a small item could sit inside a large one's box
    /// (IoU stays small) and, pasted with a max blend, melt into it.
    /// </summary>
    public double MaxCoveredFraction { get; init; } = 0.25;

    /// <summary>Unlabelled clutter per image: item fragments and rectangle outlines.</summary>
    public (int Min, int Max) Distractors { get; init; } = (2, 6);

    public long Seed { get; init; }
}

/// <summary>
/// A deterministic detection set made from Fashion-MNIST: items pasted at several scales onto cluttered canvases (a
/// gradient, fragments of other items, rectangle outlines, noise), 1–8 labelled objects per image, written as 8-bit grey
/// PNGs with COCO JSON. Train takes items from Fashion-MNIST's training set, val and test from disjoint halves of its
/// test set, so no item is shared between splits. Every image is a pure function of (seed, split, index), so the files
/// are the same whatever the thread count.
/// Layout: <c>root/images/{train,val,test}/000001.png</c>, <c>root/annotations/{split}.json</c>, <c>root/synthetic.json</c>
/// (the settings; a later call with the same settings reuses the files instead of regenerating them).
/// </summary>
public sealed class SyntheticDetectionSet
{
    public static IReadOnlyList<string> Splits { get; } = ["train", "val", "test"];

    private const int ManifestVersion = 1;

    private SyntheticDetectionSet(string root, SyntheticDetectionOptions options)
    {
        Root = root;
        Options = options;
    }

    public string Root { get; }

    public SyntheticDetectionOptions Options { get; }

    public string AnnotationsPath(string split) => Path.Combine(Root, "annotations", split + ".json");

    public string ImagesDirectory(string split) => Path.Combine(Root, "images", split);

    /// <summary>A split as a dataset.</summary>
    public CocoDetectionDataset Open(string split) => CocoDetectionDataset.Open(AnnotationsPath(split), ImagesDirectory(split));

    /// <summary>
    /// Makes the set under <paramref name="root"/>, or returns the one already there when it was made with the same
    /// settings. A folder holding anything else is never touched: that is an error. The set is written to a sibling
    /// folder first and moved into place at the end, so an interrupted run leaves no half set behind.
    /// </summary>
    public static SyntheticDetectionSet Generate(string root, SyntheticDetectionOptions options, string? fashionMnistDirectory = null, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        root = Path.GetFullPath(root);
        var manifest = ManifestJson(options);
        var manifestPath = Path.Combine(root, "synthetic.json");
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
        {
            if (File.Exists(manifestPath) && File.ReadAllText(manifestPath) == manifest)
                return new SyntheticDetectionSet(root, options);
            throw new IOException(File.Exists(manifestPath)
                ? $"'{root}' holds a synthetic detection set made with other settings; not overwriting it (choose another folder or delete it)."
                : $"'{root}' exists and is not a synthetic detection set; not writing into it.");
        }
        var train = IdxDataset.FashionMnist(train: true, fashionMnistDirectory);
        var test = IdxDataset.FashionMnist(train: false, fashionMnistDirectory);
        var half = test.Count / 2;
        var staging = root.TrimEnd(Path.DirectorySeparatorChar) + ".partial-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var counts = new[] { options.TrainImages, options.ValImages, options.TestImages };
            for (var s = 0; s < Splits.Count; s++)
            {
                var (source, first, count) = s == 0 ? (train, 0, train.Count) : s == 1 ? (test, 0, half) : (test, half, test.Count - half);
                WriteSplit(staging, Splits[s], s, counts[s], options, source, first, count, threads);
            }
            File.WriteAllText(Path.Combine(staging, "synthetic.json"), manifest);
            if (Directory.Exists(root))
                Directory.Delete(root); // empty, checked above
            Directory.CreateDirectory(Path.GetDirectoryName(root)!);
            Directory.Move(staging, root);
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
        return new SyntheticDetectionSet(root, options);
    }

    private static void Validate(SyntheticDetectionOptions o)
    {
        if (o.ImageSize < 16 || o.ObjectSize.Min < 4 || o.ObjectSize.Max < o.ObjectSize.Min || o.ObjectSize.Max > o.ImageSize)
            throw new ArgumentException($"Synthetic set: need 16 <= ImageSize and 4 <= ObjectSize.Min <= ObjectSize.Max <= ImageSize, got {o.ImageSize} and {o.ObjectSize}.");
        if (o.MinObjects < 0 || o.MaxObjects < o.MinObjects || o.TrainImages < 0 || o.ValImages < 0 || o.TestImages < 0)
            throw new ArgumentException("Synthetic set: object and image counts must be non-negative with MinObjects <= MaxObjects.");
    }

    /// <summary>The settings as JSON, written by hand: reflection serialization is off in file-based apps (notebooks).</summary>
    private static string ManifestJson(SyntheticDetectionOptions o)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", ManifestVersion);
            w.WriteNumber("image_size", o.ImageSize);
            w.WriteNumber("train_images", o.TrainImages);
            w.WriteNumber("val_images", o.ValImages);
            w.WriteNumber("test_images", o.TestImages);
            w.WriteNumber("min_objects", o.MinObjects);
            w.WriteNumber("max_objects", o.MaxObjects);
            w.WriteStartArray("object_size");
            w.WriteNumberValue(o.ObjectSize.Min);
            w.WriteNumberValue(o.ObjectSize.Max);
            w.WriteEndArray();
            w.WriteNumber("max_overlap_iou", o.MaxOverlapIoU);
            w.WriteNumber("max_covered_fraction", o.MaxCoveredFraction);
            w.WriteStartArray("distractors");
            w.WriteNumberValue(o.Distractors.Min);
            w.WriteNumberValue(o.Distractors.Max);
            w.WriteEndArray();
            w.WriteNumber("seed", o.Seed);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void WriteSplit(string staging, string split, int splitNumber, int images, SyntheticDetectionOptions o, IdxDataset source, int first, int count, int threads)
    {
        var dir = Path.Combine(staging, "images", split);
        Directory.CreateDirectory(dir);
        var perImage = new List<(BoundingBox Box, int Label)>[images];
        Parallel.For(0, images, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, i =>
        {
            var rng = SeededRng.For(o.Seed, splitNumber, i);
            var (pixels, objects) = Render(o, source, first, count, rng);
            perImage[i] = objects;
            WritePng(Path.Combine(dir, FileName(i)), pixels, o.ImageSize, o.ImageSize);
        });
        var cocoImages = Enumerable.Range(0, images).Select(i => new CocoImage(i + 1, FileName(i), o.ImageSize, o.ImageSize)).ToList();
        var cats = IdxDataset.FashionMnistClasses.Select((n, k) => new CocoCategory(k + 1, n, "fashion")).ToList();
        var anns = new List<CocoAnnotation>();
        for (var i = 0; i < images; i++)
        {
            foreach (var (box, label) in perImage[i])
                anns.Add(new CocoAnnotation(anns.Count + 1, i + 1, label + 1, CocoBox.From(box), box.Area));
        }
        var annDir = Path.Combine(staging, "annotations");
        Directory.CreateDirectory(annDir);
        CocoJson.Write(Path.Combine(annDir, split + ".json"), new CocoDataset(cocoImages, cats, anns));
    }

    private static string FileName(int i) => $"{i + 1:D6}.png";

    /// <summary>One canvas as bytes [H,W] and its labelled boxes (tight around the pasted item's visible pixels).</summary>
    internal static (byte[] Pixels, List<(BoundingBox Box, int Label)> Objects) Render(SyntheticDetectionOptions o, IdxDataset source, int first, int count, SeededRng rng)
    {
        int n = o.ImageSize;
        var canvas = new float[n * n];
        // Background: a level and a gentle gradient.
        double level = rng.Uniform(0, 0.3), gx = rng.Uniform(-0.15, 0.15), gy = rng.Uniform(-0.15, 0.15);
        for (var y = 0; y < n; y++)
        {
            for (var x = 0; x < n; x++)
                canvas[y * n + x] = (float)Math.Clamp(level + gx * ((double)x / n - 0.5) + gy * ((double)y / n - 0.5), 0, 1);
        }
        // Clutter: fragments of random items (any class, never labelled) and rectangle outlines.
        var distractors = rng.NextInt(o.Distractors.Min, o.Distractors.Max);
        for (var d = 0; d < distractors; d++)
        {
            if (rng.Chance(0.6))
            {
                var item = Item(source, first + rng.NextInt(count));
                int f = rng.NextInt(7, 14), fx = rng.NextInt(0, 28 - f), fy = rng.NextInt(0, 28 - f);
                var side = Math.Max(4, (int)Math.Round(f * rng.Uniform(1, 2.5)));
                var frag = Resampler.Resize(item, side, side, Interpolation.Bilinear, fx, fy, f, f);
                PasteMax(canvas, n, frag, rng.NextInt(-side / 2, n - side / 2), rng.NextInt(-side / 2, n - side / 2), (float)rng.Uniform(0.3, 0.7));
            }
            else
            {
                int w = rng.NextInt(8, n / 2), h = rng.NextInt(8, n / 2), x0 = rng.NextInt(0, n - w), y0 = rng.NextInt(0, n - h);
                var v = (float)rng.Uniform(0.2, 0.6);
                for (var x = x0; x < x0 + w; x++)
                {
                    canvas[y0 * n + x] = Math.Max(canvas[y0 * n + x], v);
                    canvas[(y0 + h - 1) * n + x] = Math.Max(canvas[(y0 + h - 1) * n + x], v);
                }
                for (var y = y0; y < y0 + h; y++)
                {
                    canvas[y * n + x0] = Math.Max(canvas[y * n + x0], v);
                    canvas[y * n + x0 + w - 1] = Math.Max(canvas[y * n + x0 + w - 1], v);
                }
            }
        }
        // Objects at several scales, placed where they overlap earlier ones by at most MaxOverlapIoU and MaxCoveredFraction.
        var objects = new List<(BoundingBox Box, int Label)>();
        var wanted = rng.NextInt(o.MinObjects, o.MaxObjects);
        for (var k = 0; k < wanted; k++)
        {
            var index = first + rng.NextInt(count);
            var side = (int)Math.Round(Math.Exp(rng.Uniform(Math.Log(o.ObjectSize.Min), Math.Log(o.ObjectSize.Max + 1))) - 0.5);
            side = Math.Clamp(side, o.ObjectSize.Min, o.ObjectSize.Max);
            var scaled = Resampler.Resize(Item(source, index), side, side, Interpolation.Bilinear);
            if (TightBox(scaled) is not { } local)
                continue;
            var intensity = (float)rng.Uniform(0.65, 1.0);
            for (var attempt = 0; attempt < 30; attempt++)
            {
                int x = rng.NextInt(0, n - side), y = rng.NextInt(0, n - side);
                var box = local.Affine(1, 1, x, y);
                if (objects.Any(p => p.Box.IoU(box) > o.MaxOverlapIoU || CoveredFraction(p.Box, box) > o.MaxCoveredFraction))
                    continue;
                PasteMax(canvas, n, scaled, x, y, intensity);
                objects.Add((box, source.Label(index)));
                break;
            }
        }
        // Sensor noise, then 8 bits.
        var sigma = rng.Uniform(0.01, 0.05);
        var bytes = new byte[n * n];
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)Math.Round(Math.Clamp(canvas[i] + sigma * rng.NextGaussian(), 0, 1) * 255);
        return (bytes, objects);
    }

    /// <summary>The intersection as a fraction of the smaller box.</summary>
    internal static double CoveredFraction(BoundingBox a, BoundingBox b)
    {
        var w = Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1);
        var h = Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1);
        return w <= 0 || h <= 0 ? 0 : w * h / Math.Min(a.Area, b.Area);
    }

    private static ImageBuffer Item(IdxDataset source, int index)
    {
        var px = source.Pixels(index);
        var data = new float[px.Length];
        for (var i = 0; i < px.Length; i++)
            data[i] = px[i] / 255f;
        return new ImageBuffer(1, source.Height, source.Width, data);
    }

    /// <summary>The box around the item's visible pixels (value &gt; 0.1), pixel edges inclusive; null when none are.</summary>
    private static BoundingBox? TightBox(ImageBuffer img)
    {
        int x1 = int.MaxValue, y1 = int.MaxValue, x2 = -1, y2 = -1;
        for (var y = 0; y < img.Height; y++)
        {
            for (var x = 0; x < img.Width; x++)
            {
                if (img[0, y, x] > 0.1f)
                {
                    x1 = Math.Min(x1, x);
                    y1 = Math.Min(y1, y);
                    x2 = Math.Max(x2, x);
                    y2 = Math.Max(y2, y);
                }
            }
        }
        return x2 < 0 ? null : new BoundingBox(x1, y1, x2 + 1, y2 + 1);
    }

    private static void PasteMax(float[] canvas, int n, ImageBuffer img, int x0, int y0, float intensity)
    {
        for (var y = 0; y < img.Height; y++)
        {
            var cy = y0 + y;
            if (cy < 0 || cy >= n)
                continue;
            for (var x = 0; x < img.Width; x++)
            {
                var cx = x0 + x;
                if (cx < 0 || cx >= n)
                    continue;
                canvas[cy * n + cx] = Math.Max(canvas[cy * n + cx], Math.Clamp(img[0, y, x], 0, 1) * intensity);
            }
        }
    }

    private static void WritePng(string path, byte[] gray, int width, int height)
    {
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var span = bmp.GetPixelSpan();
        for (var y = 0; y < height; y++)
            gray.AsSpan(y * width, width).CopyTo(span.Slice(y * bmp.RowBytes, width));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        using var fs = File.Create(path);
        data.SaveTo(fs);
    }
}
