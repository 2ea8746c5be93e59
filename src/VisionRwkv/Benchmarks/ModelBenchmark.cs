using VisionRwkv.Common;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Models;
using VisionRwkv.Training;
using VisionRwkv.Runtime;
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
/// <param name="Kernels">Which fused CUDA kernels may run (null: all).</param>
public sealed record BenchConfig(
    string Model, int Res, int Batch, BenchMode Mode, string Device, ScalarType DType, int Warmup = 2, int Iterations = 5,
    KernelOptions? Kernels = null);

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

    /// <summary>Runs one configuration (see <see cref="RunTogether"/>).</summary>
    public static BenchRecord Run(BenchConfig config, double? peakFlopsPerSecond = null) =>
        RunTogether([config], peakFlopsPerSecond)[0];

    /// <summary>
    /// Runs configurations that differ only in the model, so that their ratios are fair. Infer mode: model.eval()
    /// under no_grad. Train mode: forward, cross-entropy, backward and an AdamW step. Two passes:
    /// memory, each model alone (nothing else alive, the meter reset, warm-up plus timed iterations sampled);
    /// then time, all models built again, warmed up, and timed in interleaved rounds (<see cref="Timing.MeasureInterleaved"/>),
    /// so that a machine whose speed drifts slows them alike. Failures (an op without a bfloat16 kernel, out of
    /// memory) come back as records with <see cref="BenchRecord.Error"/> set rather than as exceptions.
    /// </summary>
    /// <param name="configs">Configurations with equal resolution, batch, mode, device, dtype and iteration counts.</param>
    /// <param name="peakFlopsPerSecond">The machine's measured matmul peak; on the CPU each record's peak_fraction is relative to it.</param>
    public static IReadOnlyList<BenchRecord> RunTogether(IReadOnlyList<BenchConfig> configs, double? peakFlopsPerSecond = null)
    {
        ArgumentNullException.ThrowIfNull(configs);
        if (configs.Count == 0) return [];
        var first = configs[0];
        foreach (var c in configs)
        {
            if (c.Batch < 1) throw new ArgumentOutOfRangeException(nameof(configs), $"batch must be at least 1, got {c.Batch}");
            if (c.Res < 1) throw new ArgumentOutOfRangeException(nameof(configs), $"resolution must be positive, got {c.Res}");
            if (c with { Model = first.Model } != first)
                throw new ArgumentException($"configurations run together may differ only in the model: {c} against {first}", nameof(configs));
            ModelRegistry.Get(c.Model);                              // an unknown name fails before anything runs
        }
        var device = new Device(first.Device);
        bool onCuda = device.type == DeviceType.CUDA;

        // Pass 1, memory: one model at a time, so that no other model's weights count towards its peak.
        var records = configs.Select(c => MeasureMemory(c, device, onCuda)).ToArray();

        // Pass 2, time: every model that ran, in interleaved rounds.
        var sessions = new List<(int Index, Session Session)>();
        try
        {
            for (int i = 0; i < configs.Count; i++)
            {
                if (records[i].Error is not null) continue;
                try
                {
                    sessions.Add((i, Session.Create(configs[i], device)));
                }
                catch (Exception e) when (IsRunFailure(e))
                {
                    records[i] = records[i] with { Error = FirstLine(e.Message) };
                }
            }
            double[][] seconds;
            try
            {
                seconds = Timing.MeasureInterleaved(device, first.Warmup, first.Iterations,
                    [.. sessions.Select(s => (Action)s.Session.Step)]);
            }
            catch (Exception e) when (IsRunFailure(e))
            {
                foreach (var (i, _) in sessions) records[i] = records[i] with { Error = FirstLine(e.Message) };
                return records;
            }
            for (int j = 0; j < sessions.Count; j++)
            {
                int i = sessions[j].Index;
                double median = Timing.Median(seconds[j]);
                double imgPerS = configs[i].Batch / median;
                double? fraction = !onCuda && peakFlopsPerSecond is double peak && peak > 0
                    ? records[i].GflopsPerImg * 1e9 * imgPerS / peak
                    : null;
                records[i] = records[i] with { ImgPerS = imgPerS, MedianS = median, IterS = seconds[j], PeakFraction = fraction };
            }
            return records;
        }
        finally
        {
            foreach (var (_, session) in sessions) session.Dispose();
        }
    }

    /// <summary>The memory pass of one configuration: the record without timings, or with the error that stopped it.</summary>
    private static BenchRecord MeasureMemory(BenchConfig config, Device device, bool onCuda)
    {
        var record = new BenchRecord
        {
            Model = config.Model, Res = config.Res, Batch = config.Batch, Mode = config.Mode.ToString().ToLowerInvariant(),
            Device = config.Device, DType = DTypeName(config.DType),
        };
        // Free what earlier configurations left, then start this configuration's high-water mark.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var memory = onCuda ? MemoryMeter.Cuda() : MemoryMeter.Cpu();
        try
        {
            using var session = Session.Create(config, device);
            record = record with { Tokens = session.Flops.Tokens, GflopsPerImg = session.Flops.For(config.Mode) / 1e9 };
            // As many runs as the timing pass makes; sampled while each run's tensors are alive.
            Timing.Measure(device, 0, config.Warmup + config.Iterations, () =>
            {
                session.Step();
                memory.Sample();
            });
        }
        catch (Exception e) when (IsRunFailure(e))
        {
            return record with { Error = FirstLine(e.Message) };
        }
        return record with
        {
            PeakMemMb = memory.PeakBytes is long b ? b / (1024.0 * 1024.0) : null, MemSource = memory.Source,
        };
    }

    private static bool IsRunFailure(Exception e) =>
        e is ExternalException or InvalidOperationException or ArgumentException or NotSupportedException or OutOfMemoryException;

    /// <summary>A model with its inputs on the device and, in train mode, an optimizer: one <see cref="Step"/> per iteration.</summary>
    private sealed record Session(nn.Module<Tensor, Tensor> Module, Tensor Images, Tensor Labels, optim.Optimizer? Optimizer,
        ModelFlops Flops) : IDisposable
    {
        public static Session Create(BenchConfig config, Device device)
        {
            var entry = ModelRegistry.Get(config.Model);
            var module = entry.Create(null, config.Kernels);
            try
            {
                var classifier = (IImageClassifier)module;
                var flops = FlopCounter.Count(classifier, config.Res, config.Res);
                module.to(device);
                if (config.DType != ScalarType.Float32) module.to(config.DType);
                manual_seed(0);
                var images = randn(config.Batch, entry.Data.Channels, config.Res, config.Res, dtype: config.DType, device: device).DetachFromDisposeScope();
                var labels = randint(0, classifier.NumClasses, new long[] { config.Batch }, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
                optim.Optimizer? optimizer = null;
                if (config.Mode == BenchMode.Infer)
                    module.eval();
                else
                {
                    module.train();
                    optimizer = new FusedAdamW(module.parameters(), lr: 1e-4) { UseCudaKernel = (config.Kernels ?? KernelOptions.Default).CudaAdamW };
                }
                return new Session(module, images, labels, optimizer, flops);
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }

        /// <summary>One iteration; the caller owns the dispose scope.</summary>
        public void Step()
        {
            if (Optimizer is null)
            {
                using var noGrad = no_grad();
                Module.call(Images);
                return;
            }
            Optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(Module.call(Images), Labels);
            loss.backward();
            Optimizer.step();
        }

        public void Dispose()
        {
            Optimizer?.Dispose();
            Images.Dispose();
            Labels.Dispose();
            Module.Dispose();
        }
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
