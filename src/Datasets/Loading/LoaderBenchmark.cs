using System.Diagnostics;
using SkiaSharp;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;

namespace VisionRwkv.Datasets.Loading;

/// <summary>What <see cref="LoaderBenchmark.Run"/> measured: the best of its passes, by wall clock and by CPU time.</summary>
/// <param name="Images">Images that came out of the pipeline in one pass.</param>
/// <param name="Skipped">Items the loader could not read.</param>
/// <param name="PipelineImgPerS">Decode + eval transform + collation, images per second.</param>
/// <param name="PipelineCpuMsPerImage">The same in CPU milliseconds per image (all threads); stable when cores are shared.</param>
/// <param name="DecodeImgPerS">Decoding alone at the scale the pipeline asks for (null when not measured).</param>
/// <param name="DecodeCpuMsPerImage">Decoding alone in CPU milliseconds per image.</param>
public sealed record LoaderBenchmarkResult(long Images, IReadOnlyList<SkippedItem> Skipped, double PipelineImgPerS, double PipelineCpuMsPerImage,
    double? DecodeImgPerS, double? DecodeCpuMsPerImage);

/// <summary>
/// Data pipeline throughput (<c>rwkv bench data</c>): one warm-up on up to two batches, then <c>repeat</c> timed passes
/// of the whole loader and, optionally, of decoding alone on the same number of threads; the best pass is reported.
/// </summary>
public static class LoaderBenchmark
{
    public static LoaderBenchmarkResult Run(IImageDataset dataset, ImagePipeline pipeline, LoaderOptions options, int repeat, bool measureDecode)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        if (dataset.Count == 0)
            throw new InvalidOperationException("no images to measure");
        // Warm-up (JIT, native libraries, file cache) on up to two batches, then the timed epochs.
        var warm = new SubsetDataset(dataset, Enumerable.Range(0, Math.Min(dataset.Count, 2 * options.BatchSize)));
        foreach (var b in new DataLoader(warm, pipeline, options).Epoch(0))
            b.Dispose();
        var loader = new DataLoader(dataset, pipeline, options);
        var images = 0L;
        double pipelineRate = 0, decodeRate = 0;
        // CPU time per image (all threads): unlike wall-clock rates it barely moves when other processes share the cores.
        double pipelineCpuMs = double.MaxValue, decodeCpuMs = double.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (var pass = 0; pass < Math.Max(1, repeat); pass++)
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
            if (!measureDecode)
                continue;
            // Decoding alone at the scale the pipeline asks for, on the same number of threads.
            var decoded = 0L;
            process.Refresh();
            cpu0 = process.TotalProcessorTime;
            sw.Restart();
            Parallel.For(0, dataset.Count, new ParallelOptions { MaxDegreeOfParallelism = options.Threads }, i =>
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
            decodeRate = Math.Max(decodeRate, decoded / sw.Elapsed.TotalSeconds);
            process.Refresh();
            decodeCpuMs = Math.Min(decodeCpuMs, (process.TotalProcessorTime - cpu0).TotalMilliseconds / Math.Max(1, decoded));
        }
        return new LoaderBenchmarkResult(images, loader.Skipped, pipelineRate, pipelineCpuMs,
            measureDecode ? decodeRate : null, measureDecode ? decodeCpuMs : null);
    }

    /// <summary>The 1-minute load average where the OS reports one (Linux), else empty.</summary>
    public static string LoadAverage()
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

    /// <summary>
    /// Photo-like test JPEGs of <paramref name="width"/>x<paramref name="height"/> (smooth colour gradients plus pixel
    /// noise, quality 90, so the files have photo-like entropy), named photo000.jpg...; deterministic per index.
    /// </summary>
    public static void GeneratePhotos(string dir, int count, int width = 3000, int height = 2000)
    {
        Directory.CreateDirectory(dir);
        Parallel.For(0, count, i =>
        {
            var rng = new SeededRng((ulong)i + 1);
            using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
            var px = bmp.GetPixelSpan();
            double fx = rng.Uniform(1, 4), fy = rng.Uniform(1, 4), phase = rng.Uniform(0, 6);
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    var o = y * bmp.RowBytes + 4 * x;
                    var n = (int)(rng.NextUInt64() & 0xFFFFFF);
                    var g = Math.Sin(x * fx / width * Math.PI + phase) * Math.Cos(y * fy / height * Math.PI);
                    px[o] = Clamp(128 + 100 * g + (n & 0xFF) % 24 - 12);
                    px[o + 1] = Clamp(255.0 * x / width + ((n >> 8) & 0xFF) % 24 - 12);
                    px[o + 2] = Clamp(255.0 * y / height + ((n >> 16) & 0xFF) % 24 - 12);
                    px[o + 3] = 255;
                }
            }
            using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 90);
            AtomicFile.Write(Path.Combine(dir, $"photo{i:D3}.jpg"), s => s.Write(data.AsSpan()));
        });
    }

    private static byte Clamp(double v) => (byte)Math.Clamp((int)v, 0, 255);
}
