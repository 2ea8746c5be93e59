using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SkiaSharp;
using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Common;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary>
/// <c>rwkv bench data</c>: images per second through the whole eval input pipeline (decode, transform, collation into
/// tensors) and, for image files, through decoding alone at the scale the pipeline asks for, on the same thread count.
/// </summary>
internal static class BenchDataCommand
{
    internal static Command Create()
    {
        var source = new Option<string>("--source") { Description = "Image folder (class subfolders or flat), or idx:PATH (Fashion-MNIST folder or an idx3 images file).", Required = true };
        var size = new Option<int?>("--size") { Description = "Output size (default 224 for images, the native size for IDX)." };
        var threads = new Option<int>("--threads") { Description = "Worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file." };
        var repeat = new Option<int>("--repeat") { Description = "Timed passes of each measurement; the best is reported (the machine may be shared).", DefaultValueFactory = _ => 3 };
        var generate = new Option<int>("--generate-photos") { Description = "First write this many 3000x2000 JPEG test photos (noise + gradients, quality 90) into --source." };
        var skia = new Option<bool>("--skia-jpeg") { Description = "Decode JPEGs with Skia's bundled decoder even when TurboJPEG is installed." };
        var command = new Command("data", "Data pipeline throughput: whole eval pipeline and decode-only, images/s.");
        command.Options.Add(source);
        command.Options.Add(size);
        command.Options.Add(threads);
        command.Options.Add(batch);
        command.Options.Add(json);
        command.Options.Add(generate);
        command.Options.Add(repeat);
        command.Options.Add(skia);
        command.SetAction(parse =>
        {
            var src = parse.GetValue(source)!;
            var count = parse.GetValue(generate);
            if (count > 0)
                GeneratePhotos(src, count);
            return Run(src, parse.GetValue(size), parse.GetValue(threads), parse.GetValue(batch), parse.GetValue(json), Math.Max(1, parse.GetValue(repeat)),
                new DecodeOptions { UseTurboJpeg = !parse.GetValue(skia) });
        });
        return command;
    }

    private static int Run(string source, int? size, int threads, int batchSize, string? jsonPath, int repeat, DecodeOptions decode)
    {
        IImageDataset dataset;
        ImagePipeline pipeline;
        var isIdx = source.StartsWith("idx:", StringComparison.Ordinal);
        if (isIdx)
        {
            var idx = OpenIdx(source["idx:".Length..]);
            dataset = idx;
            var cfg = DataConfig.FashionMnist() with { Height = size ?? idx.Height, Width = size ?? idx.Width };
            pipeline = ImagePipeline.Eval(cfg, decode);
        }
        else
        {
            dataset = HasClassFolders(source) ? new ImageFolderDataset(source) : ImageFilesDataset.Scan(source);
            pipeline = ImagePipeline.Eval(DataConfig.ImageNet().WithSize(size ?? 224), decode);
        }
        if (dataset.Count == 0)
            throw new InvalidOperationException($"No images in '{source}'.");
        var options = new LoaderOptions { BatchSize = batchSize, Threads = threads };

        // Warm-up (JIT, native libraries, file cache) on up to two batches, then one timed epoch.
        var warm = new SubsetDataset(dataset, Enumerable.Range(0, Math.Min(dataset.Count, 2 * batchSize)));
        foreach (var b in new DataLoader(warm, pipeline, options).Epoch(0))
            b.Dispose();
        var loader = new DataLoader(dataset, pipeline, options);
        var images = 0L;
        double pipelineRate = 0, decodeRateBest = 0;
        // CPU time per image (all threads): unlike wall-clock rates it barely moves when other processes share the cores.
        double pipelineCpuMs = double.MaxValue, decodeCpuMs = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (var pass = 0; pass < repeat; pass++)
        {
            images = 0;
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            foreach (var b in loader.Epoch(pass))
            {
                images += b.Size;
                b.Dispose();
            }
            pipelineRate = Math.Max(pipelineRate, images / sw.Elapsed.TotalSeconds);
            process.Refresh();
            pipelineCpuMs = Math.Min(pipelineCpuMs, (process.TotalProcessorTime - cpu0).TotalMilliseconds / Math.Max(1, images));

            if (!isIdx)
            {
                // Decoding alone at the scale the pipeline asks for, on the same number of threads.
                var decoded = 0L;
                process.Refresh();
                cpu0 = process.TotalProcessorTime;
                sw.Restart();
                Parallel.For(0, dataset.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    try
                    {
                        dataset.Load(i, pipeline.Decode);
                        Interlocked.Increment(ref decoded);
                    }
                    catch (ImageDecodeException)
                    {
                    }
                });
                decodeRateBest = Math.Max(decodeRateBest, decoded / sw.Elapsed.TotalSeconds);
                process.Refresh();
                decodeCpuMs = Math.Min(decodeCpuMs, (process.TotalProcessorTime - cpu0).TotalMilliseconds / Math.Max(1, decoded));
            }
        }
        double? decodeRate = isIdx ? null : decodeRateBest;

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"source            {source}");
        Console.WriteLine($"items             {dataset.Count} ({loader.Skipped.Count} skipped)");
        Console.WriteLine($"output            {pipeline.Channels}x{pipeline.Height}x{pipeline.Width}, decode shorter side >= {pipeline.Decode.MinShorterSide}");
        Console.WriteLine($"threads           {threads} (best of {repeat} passes; JPEG decoder: {(ImageDecoder.TurboJpegAvailable && decode.UseTurboJpeg ? "TurboJPEG" : "Skia")})");
        Console.WriteLine(string.Create(inv, $"pipeline          {pipelineRate,10:F1} img/s  {pipelineCpuMs,8:F3} CPU ms/img  (decode + eval transform + collation)"));
        if (decodeRate is { } d)
            Console.WriteLine(string.Create(inv, $"decode only       {d,10:F1} img/s  {decodeCpuMs,8:F3} CPU ms/img  (pipeline/decode = {pipelineRate / d:P0}; by CPU time {decodeCpuMs / pipelineCpuMs:P0})"));
        Console.WriteLine(string.Create(inv, $"load average      {LoadAverage()} (other processes on these cores lower the img/s figures)"));
        foreach (var s in loader.Skipped.Take(5))
            Console.WriteLine($"skipped           {s.Name}: {s.Reason}");

        if (jsonPath is not null)
        {
            var record = new Dictionary<string, object?>
            {
                ["source"] = source,
                ["size"] = pipeline.Height,
                ["threads"] = threads,
                ["img_per_s"] = Math.Round(pipelineRate, 2),
                ["images"] = images,
                ["skipped"] = loader.Skipped.Count,
                ["repeat"] = repeat,
                ["cpu_ms_per_img"] = Math.Round(pipelineCpuMs, 4),
                ["load_average"] = LoadAverage(),
                ["jpeg_decoder"] = ImageDecoder.TurboJpegAvailable && decode.UseTurboJpeg ? "turbojpeg" : "skia",
            };
            if (decodeRate is { } dr)
            {
                record["decode_img_per_s"] = Math.Round(dr, 2);
                record["decode_cpu_ms_per_img"] = Math.Round(decodeCpuMs, 4);
            }
            WriteAtomically(jsonPath, JsonSerializer.Serialize(record, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    /// <summary>The 1-minute load average where the OS reports one (Linux), else empty.</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool HasClassFolders(string root) =>
        Directory.EnumerateDirectories(root).Any(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)
            .Any(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f))));

    private static IdxDataset OpenIdx(string path)
    {
        if (Directory.Exists(path))
            return IdxDataset.FashionMnist(train: true, path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"IDX source '{path}' is neither a folder nor a file.", path);
        var labels = path.Replace("images-idx3", "labels-idx1", StringComparison.Ordinal);
        if (labels == path || !File.Exists(labels))
            throw new FileNotFoundException($"No labels file next to '{path}' (expected '{labels}').");
        return new IdxDataset(path, labels);
    }

    private static void WriteAtomically(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        using (var w = new StreamWriter(fs))
        {
            w.Write(text);
            w.Flush();
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>Photo-like test JPEGs: smooth colour gradients plus pixel noise, so the files have photo-like entropy.</summary>
    private static void GeneratePhotos(string dir, int count)
    {
        Directory.CreateDirectory(dir);
        const int w = 3000, h = 2000;
        Parallel.For(0, count, i =>
        {
            var rng = new SeededRng((ulong)i + 1);
            using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
            var px = bmp.GetPixelSpan();
            double fx = rng.Uniform(1, 4), fy = rng.Uniform(1, 4), phase = rng.Uniform(0, 6);
            for (var y = 0; y < h; y++)
            {
                for (var x = 0; x < w; x++)
                {
                    var o = y * bmp.RowBytes + 4 * x;
                    var n = (int)(rng.NextUInt64() & 0xFFFFFF);
                    var g = Math.Sin(x * fx / w * Math.PI + phase) * Math.Cos(y * fy / h * Math.PI);
                    px[o] = Clamp(128 + 100 * g + (n & 0xFF) % 24 - 12);
                    px[o + 1] = Clamp(255.0 * x / w + ((n >> 8) & 0xFF) % 24 - 12);
                    px[o + 2] = Clamp(255.0 * y / h + ((n >> 16) & 0xFF) % 24 - 12);
                    px[o + 3] = 255;
                }
            }
            using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
            File.WriteAllBytes(Path.Combine(dir, $"photo{i:D3}.jpg"), data.ToArray());
        });
    }

    private static byte Clamp(double v) => (byte)Math.Clamp((int)v, 0, 255);
}
