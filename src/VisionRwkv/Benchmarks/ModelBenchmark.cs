using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Benchmarks;

/// <summary>One benchmark configuration: a model preset at a square resolution.</summary>
/// <param name="Model">Registry name (vrwkv_t, vit_t, ...).</param>
/// <param name="Res">Image height and width in pixels.</param>
/// <param name="Batch">Images per iteration.</param>
/// <param name="Mode">Inference or a training step.</param>
/// <param name="Device">"cpu" or "cuda" (or "cuda:1").</param>
/// <param name="DType">float32, or bfloat16 (the whole model and its inputs cast; the WKV core computes in float32).</param>
/// <param name="Warmup">Untimed iterations first.</param>
/// <param name="Iterations">Timed iterations; the median is reported (at least 5).</param>
public sealed record BenchConfig(
    string Model, int Res, int Batch, BenchMode Mode, string Device, ScalarType DType, int Warmup = 2, int Iterations = 5);

/// <summary>One result row; the JSON names are the (model, res, batch, mode, device, dtype, img_per_s, ...).</summary>
public sealed record BenchRecord
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("res")] public required int Res { get; init; }
    [JsonPropertyName("batch")] public required int Batch { get; init; }
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("dtype")] public required string DType { get; init; }
    /// <summary>Tokens through the blocks (ViT counts its class token).</summary>
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    /// <summary>Images per second: batch over the median iteration time; null if the run failed.</summary>
    [JsonPropertyName("img_per_s")] public double? ImgPerS { get; init; }
    /// <summary>Median seconds per iteration (one batch).</summary>
    [JsonPropertyName("median_s")] public double? MedianS { get; init; }
    [JsonPropertyName("iter_s")] public IReadOnlyList<double>? IterS { get; init; }
    /// <summary>Peak memory in MiB (CPU: process VmHWM; CUDA: device memory in use, see mem_source).</summary>
    [JsonPropertyName("peak_mem_mb")] public double? PeakMemMb { get; init; }
    /// <summary>How peak_mem_mb was measured.</summary>
    [JsonPropertyName("mem_source")] public string? MemSource { get; init; }
    /// <summary>Analytic model GFLOPs per image for this mode (training counts 3× forward).</summary>
    [JsonPropertyName("gflops_per_img")] public double GflopsPerImg { get; init; }
    /// <summary>CPU only: achieved model FLOP/s over the measured matmul peak.</summary>
    [JsonPropertyName("peak_fraction")] public double? PeakFraction { get; init; }
    /// <summary>Why the run failed (unsupported op, out of memory, ...); null when it ran.</summary>
    [JsonPropertyName("error")] public string? Error { get; init; }

    /// <summary>Milliseconds per image, for plots.</summary>
    [JsonIgnore] public double? MsPerImage => ImgPerS is double r && r > 0 ? 1000.0 / r : null;
}

/// <summary>Runs benchmark configurations: timing, memory and FLOP-based efficiency of one model at one resolution.</summary>
public static class ModelBenchmark
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Canonical dtype name: float32 or bfloat16.</summary>
    public static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// Runs one configuration. Infer mode: model.eval() under no_grad. Train mode: forward, cross-entropy, backward and
    /// an AdamW step. Each iteration runs in its own dispose scope. Failures (an op without a bfloat16 kernel, out of
    /// memory) come back as a record with <see cref="BenchRecord.Error"/> set rather than an exception.
    /// </summary>
    /// <param name="config">What to run.</param>
    /// <param name="peakFlopsPerSecond">The machine's measured matmul peak; on the CPU the record's peak_fraction is relative to it.</param>
    public static BenchRecord Run(BenchConfig config, double? peakFlopsPerSecond = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Batch < 1) throw new ArgumentOutOfRangeException(nameof(config), $"batch must be at least 1, got {config.Batch}");
        if (config.Res < 1) throw new ArgumentOutOfRangeException(nameof(config), $"resolution must be positive, got {config.Res}");
        var device = new Device(config.Device);
        bool onCuda = device.type == DeviceType.CUDA;
        var entry = ModelRegistry.Get(config.Model);
        var baseRecord = new BenchRecord
        {
            Model = config.Model, Res = config.Res, Batch = config.Batch, Mode = config.Mode.ToString().ToLowerInvariant(),
            Device = config.Device, DType = DTypeName(config.DType),
        };

        // Free what earlier configurations left, then start this configuration's high-water mark.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var memory = onCuda ? MemoryMeter.Cuda() : MemoryMeter.Cpu();

        ModelFlops flops;
        double[] seconds;
        try
        {
            using var module = entry.Create(null);
            var classifier = (IImageClassifier)module;
            flops = FlopCounter.Count(classifier, config.Res, config.Res);
            baseRecord = baseRecord with { Tokens = flops.Tokens, GflopsPerImg = flops.For(config.Mode) / 1e9 };
            module.to(device);
            if (config.DType != ScalarType.Float32) module.to(config.DType);
            manual_seed(0);
            using var images = randn(config.Batch, entry.Data.InChannels, config.Res, config.Res, dtype: config.DType, device: device);
            using var labels = randint(0, classifier.NumClasses, new long[] { config.Batch }, dtype: ScalarType.Int64, device: device);
            if (config.Mode == BenchMode.Infer)
            {
                module.eval();
                using var noGrad = no_grad();
                seconds = Timing.Measure(device, config.Warmup, config.Iterations, () =>
                {
                    module.call(images);
                    memory.Sample();
                });
            }
            else
            {
                module.train();
                using var optimizer = optim.AdamW(module.parameters(), lr: 1e-4);
                seconds = Timing.Measure(device, config.Warmup, config.Iterations, () =>
                {
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(module.call(images), labels);
                    loss.backward();
                    optimizer.step();
                    memory.Sample();
                });
            }
            memory.Sample();
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException or NotSupportedException or OutOfMemoryException)
        {
            return baseRecord with { Error = FirstLine(e.Message) };
        }

        double median = Timing.Median(seconds);
        double imgPerS = config.Batch / median;
        double? fraction = !onCuda && peakFlopsPerSecond is double peak && peak > 0
            ? flops.For(config.Mode) * imgPerS / peak
            : null;
        return baseRecord with
        {
            ImgPerS = imgPerS, MedianS = median, IterS = seconds,
            PeakMemMb = memory.PeakBytes is long b ? b / (1024.0 * 1024.0) : null, MemSource = memory.Source,
            PeakFraction = fraction,
        };
    }

    /// <summary>Writes records as a JSON list, atomically (temporary file, flush, rename).</summary>
    public static void WriteJson(string path, IReadOnlyList<BenchRecord> records)
    {
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, records, JsonOptions));
    }

    /// <summary>Reads records written by <see cref="WriteJson"/>.</summary>
    public static IReadOnlyList<BenchRecord> ReadJson(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<List<BenchRecord>>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"{path}: expected a JSON list of benchmark records, found null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a JSON list of benchmark records: {e.Message}", e);
        }
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? message : message[..nl].TrimEnd();
    }
}
