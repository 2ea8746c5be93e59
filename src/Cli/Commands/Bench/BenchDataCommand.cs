using System.CommandLine;
using System.Globalization;
using System.Text.Json;
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
                LoaderBenchmark.GeneratePhotos(src, count);
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
            pipeline = ImagePipeline.Eval(DataConfig.FashionMnist() with { Height = size ?? idx.Height, Width = size ?? idx.Width }, decode);
        }
        else
        {
            dataset = HasClassFolders(source) ? new ImageFolderDataset(source) : ImageFilesDataset.Scan(source);
            pipeline = ImagePipeline.Eval(DataConfig.ImageNet().WithSize(size ?? 224), decode);
        }
        if (dataset.Count == 0)
            throw new InvalidOperationException($"No images in '{source}'.");
        var r = LoaderBenchmark.Run(dataset, pipeline, new LoaderOptions { BatchSize = batchSize, Threads = threads }, repeat, measureDecode: !isIdx);

        var inv = CultureInfo.InvariantCulture;
        string decoder = ImageDecoder.TurboJpegAvailable && decode.UseTurboJpeg ? "TurboJPEG" : "Skia";
        Console.WriteLine($"source            {source}");
        Console.WriteLine($"items             {dataset.Count} ({r.Skipped.Count} skipped)");
        Console.WriteLine($"output            {pipeline.Channels}x{pipeline.Height}x{pipeline.Width}, decode shorter side >= {pipeline.Decode.MinShorterSide}");
        Console.WriteLine($"threads           {threads} (best of {repeat} passes; JPEG decoder: {decoder})");
        Console.WriteLine(string.Create(inv, $"pipeline          {r.PipelineImgPerS,10:F1} img/s  {r.PipelineCpuMsPerImage,8:F3} CPU ms/img  (decode + eval transform + collation)"));
        if (r.DecodeImgPerS is { } d && r.DecodeCpuMsPerImage is { } dc)
            Console.WriteLine(string.Create(inv, $"decode only       {d,10:F1} img/s  {dc,8:F3} CPU ms/img  (pipeline/decode = {r.PipelineImgPerS / d:P0}; by CPU time {dc / r.PipelineCpuMsPerImage:P0})"));
        Console.WriteLine(string.Create(inv, $"load average      {LoaderBenchmark.LoadAverage()} (other processes on these cores lower the img/s figures)"));
        foreach (var s in r.Skipped.Take(5))
            Console.WriteLine($"skipped           {s.Name}: {s.Reason}");

        if (jsonPath is not null)
        {
            var record = new Dictionary<string, object?>
            {
                ["source"] = source,
                ["size"] = pipeline.Height,
                ["threads"] = threads,
                ["img_per_s"] = Math.Round(r.PipelineImgPerS, 2),
                ["images"] = r.Images,
                ["skipped"] = r.Skipped.Count,
                ["repeat"] = repeat,
                ["cpu_ms_per_img"] = Math.Round(r.PipelineCpuMsPerImage, 4),
                ["load_average"] = LoaderBenchmark.LoadAverage(),
                ["jpeg_decoder"] = decoder.ToLowerInvariant(),
            };
            if (r.DecodeImgPerS is { } dr)
            {
                record["decode_img_per_s"] = Math.Round(dr, 2);
                record["decode_cpu_ms_per_img"] = Math.Round(r.DecodeCpuMsPerImage!.Value, 4);
            }
            AtomicFile.WriteText(jsonPath, JsonSerializer.Serialize(record, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
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
}
