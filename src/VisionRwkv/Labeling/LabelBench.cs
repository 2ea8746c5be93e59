using System.Diagnostics;
using System.Text.Json.Serialization;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using static TorchSharp.torch;

namespace VisionRwkv.Labeling;

/// <summary>The three rates of <see cref="LabelBench"/> and how close end-to-end comes to the ideal.</summary>
public sealed record LabelBenchResult
{
    [JsonPropertyName("images")] public int Images { get; init; }
    [JsonPropertyName("model_id")] public string ModelId { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }
    [JsonPropertyName("decode_threads")] public int DecodeThreads { get; init; }
    [JsonPropertyName("torch_threads")] public int TorchThreads { get; init; }
    [JsonPropertyName("pause_decode_during_inference")] public bool PauseDecode { get; init; }
    /// <summary>Decode plus eval transform on the loader's threads, no model.</summary>
    [JsonPropertyName("decode_img_per_s")] public double DecodeImgPerS { get; init; }
    /// <summary>The model alone on ready batches of the same shape.</summary>
    [JsonPropertyName("model_img_per_s")] public double ModelImgPerS { get; init; }
    /// <summary>The labeling job, journal included, from scan to the last commit.</summary>
    [JsonPropertyName("img_per_s")] public double ImgPerS { get; init; }
    /// <summary>1 / (1/decode + 1/model): both stages one after the other, each with every core.</summary>
    [JsonPropertyName("ideal_img_per_s")] public double IdealImgPerS { get; init; }
    /// <summary>End-to-end over ideal.</summary>
    [JsonPropertyName("ratio_to_ideal")] public double RatioToIdeal { get; init; }
}

/// <summary>
/// <c>rwkv bench label</c>: decode-only, model-only and end-to-end images per second on the same files in one run.
/// </summary>
public static class LabelBench
{
    public static LabelBenchResult Run(IImageLabeler labeler, string folder, LabelOptions options, int? limit = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(options);
        var files = FileScanner.Scan([folder], options.Scan).Files
            .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f.Path)))
            .Take(limit ?? int.MaxValue).ToList();
        if (files.Count == 0)
            throw new ArgumentException($"{folder}: no image files to benchmark");
        var threads = options.DecodeThreads > 0 ? options.DecodeThreads : Math.Max(1, Environment.ProcessorCount);
        var pipeline = ImagePipeline.Eval(labeler.Input, options.Decode);
        var loaderOptions = new LoaderOptions { BatchSize = options.BatchSize, Threads = threads };
        var dataset = new ImageFilesDataset(files.Select(f => f.Path));

        // Warm-up: one batch through the loader and the model (JIT, LibTorch's first-call allocations, page cache).
        using (var first = new DataLoader(new SubsetDataset(dataset, Enumerable.Range(0, Math.Min(files.Count, options.BatchSize))), pipeline, loaderOptions).Epoch(0).First())
            labeler.Score(first.Inputs);

        var clock = Stopwatch.StartNew();
        var decoded = 0;
        foreach (var batch in new DataLoader(dataset, pipeline, loaderOptions).Epoch(0))
        {
            using (batch)
                decoded += batch.Size;
        }
        var decodeRate = decoded / clock.Elapsed.TotalSeconds;
        log?.Invoke($"decode only: {decoded} images in {clock.Elapsed.TotalSeconds:F2} s");

        var batches = (decoded + options.BatchSize - 1) / options.BatchSize;
        using (var images = randn(options.BatchSize, pipeline.Channels, pipeline.Height, pipeline.Width)) // [B,C,H,W]
        {
            clock.Restart();
            for (var b = 0; b < batches; b++)
                labeler.Score(images);
        }
        var modelRate = batches * options.BatchSize / clock.Elapsed.TotalSeconds;
        log?.Invoke($"model only: {batches * options.BatchSize} images in {clock.Elapsed.TotalSeconds:F2} s");

        var outDir = Path.Combine(Path.GetTempPath(), $"rwkv-bench-label-{Guid.NewGuid():N}");
        try
        {
            var summary = LabelJob.Run(labeler, [.. files.Select(f => f.Path)], options with { OutputDirectory = outDir, Xmp = null, Force = true });
            var e2e = summary.Labeled / summary.Seconds;
            log?.Invoke($"end to end: {summary.Labeled} images in {summary.Seconds:F2} s");
            var ideal = 1.0 / (1.0 / decodeRate + 1.0 / modelRate);
            return new LabelBenchResult
            {
                Images = files.Count, ModelId = labeler.ModelId, Input = $"{pipeline.Channels}x{pipeline.Height}x{pipeline.Width}",
                BatchSize = options.BatchSize, DecodeThreads = threads, TorchThreads = get_num_threads(),
                PauseDecode = options.PauseDecodeDuringInference, DecodeImgPerS = decodeRate, ModelImgPerS = modelRate, ImgPerS = e2e,
                IdealImgPerS = ideal, RatioToIdeal = e2e / ideal,
            };
        }
        finally
        {
            if (Directory.Exists(outDir))
                Directory.Delete(outDir, recursive: true);
        }
    }
}
