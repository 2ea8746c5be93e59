using System.CommandLine;
using System.Globalization;
using ScottPlot;
using VisionRwkv.Benchmarks;
using VisionRwkv.Models;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary>
/// <c>rwkv bench model</c>: images/s and peak memory per model and resolution, all in one process so that ratios are
/// fair, with FLOP-based efficiency against the machine's measured matmul peak on the CPU.
/// </summary>
internal static class BenchModelCommand
{
    public static Command Create(KernelOptions kernels)
    {
        var models = new Option<string>("--models") { Description = "Comma-separated registry names.", DefaultValueFactory = _ => "vrwkv_t,vit_t" };
        var res = new Option<string>("--res") { Description = "Comma-separated square resolutions in pixels.", DefaultValueFactory = _ => "224,448,896,1344" };
        var batch = new Option<string>("--batch") { Description = "Batch size: one value, or one per resolution (e.g. 8,4,1,1).", DefaultValueFactory = _ => "1" };
        var mode = new Option<string>("--mode") { Description = "infer (eval, no_grad) or train (forward, CE loss, backward, AdamW step).", DefaultValueFactory = _ => "infer" };
        var device = new Option<string>("--device") { Description = "cpu or cuda (cuda needs a CUDA LibTorch).", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16 (whole model cast; TorchSharp 0.107 has no autocast).", DefaultValueFactory = _ => "float32" };
        var warmup = new Option<int>("--warmup") { Description = "Untimed iterations per configuration.", DefaultValueFactory = _ => 2 };
        var iters = new Option<int>("--iters") { Description = "Timed iterations per configuration (at least 5; the median is reported).", DefaultValueFactory = _ => 5 };
        var threads = new Option<int?>("--threads") { Description = "Intra-op CPU threads (default: LibTorch's choice)." };
        var peakN = new Option<int>("--peak-size") { Description = "Matrix size of the CPU matmul-peak measurement.", DefaultValueFactory = _ => 2048 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the records as a JSON list to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Write a log-log PNG of time per image and peak memory against tokens." };
        var command = new Command("model", "Throughput and peak memory of models across resolutions (one run, fair ratios).")
        {
            models, res, batch, mode, device, dtype, warmup, iters, threads, peakN, json, plot,
        };
        command.SetAction(parse =>
        {
            try
            {
                var settings = Settings.Parse(parse.GetValue(models)!, parse.GetValue(res)!, parse.GetValue(batch)!,
                    parse.GetValue(mode)!, parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(warmup), parse.GetValue(iters));
                return Run(settings, parse.GetValue(threads), parse.GetValue(peakN), parse.GetValue(json), parse.GetValue(plot), kernels);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    private sealed record Settings(string[] Models, int[] Res, int[] Batch, BenchMode Mode, string Device, ScalarType DType, int Warmup, int Iters)
    {
        public static Settings Parse(string models, string res, string batch, string mode, string device, string dtype, int warmup, int iters)
        {
            var names = SplitList(models, "--models");
            foreach (var n in names) ModelRegistry.Get(n);           // unknown name → ArgumentException listing the known ones
            var resolutions = SplitList(res, "--res").Select(r => ParsePositive(r, "--res")).ToArray();
            var batches = SplitList(batch, "--batch").Select(b => ParsePositive(b, "--batch")).ToArray();
            if (batches.Length == 1) batches = Enumerable.Repeat(batches[0], resolutions.Length).ToArray();
            else if (batches.Length != resolutions.Length)
                throw new ArgumentException($"--batch has {batches.Length} values but --res has {resolutions.Length}: give one batch size or one per resolution");
            var benchMode = mode switch
            {
                "infer" => BenchMode.Infer,
                "train" => BenchMode.Train,
                _ => throw new ArgumentException($"--mode must be infer or train, got '{mode}'"),
            };
            var type = dtype switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                _ => throw new ArgumentException($"--dtype must be float32 or bfloat16, got '{dtype}'"),
            };
            if (device != "cpu" && device != "cuda" && !device.StartsWith("cuda:", StringComparison.Ordinal))
                throw new ArgumentException($"--device must be cpu or cuda, got '{device}'");
            if (iters < 5) throw new ArgumentException($"--iters must be at least 5 (the median of at least 5 timed iterations), got {iters}");
            if (warmup < 0) throw new ArgumentException($"--warmup must not be negative, got {warmup}");
            return new Settings(names, resolutions, batches, benchMode, device, type, warmup, iters);
        }

        private static string[] SplitList(string text, string option)
        {
            var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return items.Length > 0 ? items : throw new ArgumentException($"{option} is empty");
        }

        private static int ParsePositive(string text, string option) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
                ? v
                : throw new ArgumentException($"{option}: '{text}' is not a positive integer");
    }

    private static int Run(Settings s, int? threads, int peakN, FileInfo? jsonFile, FileInfo? plotFile, KernelOptions kernels)
    {
        bool onCuda = s.Device.StartsWith("cuda", StringComparison.Ordinal);
        if (onCuda && !cuda.is_available())
        {
            Console.Error.WriteLine("error: --device cuda was asked for, but TorchSharp found no CUDA LibTorch (this build loads " +
                "the CPU LibTorch, or no NVIDIA driver/GPU is visible). Build with -p:RwkvNoLibTorch=true and point " +
                "LD_LIBRARY_PATH at a CUDA LibTorch (e.g. PyTorch's lib folder), or use --device cpu.");
            return 1;
        }
        if (threads is int t) set_num_threads(t);
        Console.WriteLine($"device {s.Device}, dtype {ModelBenchmark.DTypeName(s.DType)}, mode {s.Mode.ToString().ToLowerInvariant()}, " +
            $"{get_num_threads()} intra-op threads, warm-up {s.Warmup}, {s.Iters} timed iterations (median)" +
            (s.Models.Length > 1 ? ", models timed in interleaved rounds; memory measured with each model alone" : ""));
        if (s.DType == ScalarType.BFloat16)
            Console.WriteLine("note: TorchSharp 0.107 has no autocast, so --dtype bfloat16 casts the whole model and its inputs; " +
                "the Bi-WKV computes in float32 internally." + (onCuda ? "" : " On CPUs without AVX512-BF16/AMX, bfloat16 kernels are often slower than float32."));

        double? peak = null;
        if (!onCuda)
        {
            // The denominator of peak_fraction: a large float32 matmul, the fastest of several (the machine's peak,
            // whatever the run's dtype, so that fractions compare across dtypes).
            var cpu = new Device(s.Device);
            var mm = MatmulPeak.Measure(cpu, ScalarType.Float32, peakN);
            peak = mm.FlopsPerSecond;
            Console.WriteLine($"matmul peak: {mm.FlopsPerSecond / 1e9:F1} GFLOP/s (float32 {peakN}x{peakN}, " +
                $"fastest of {mm.Seconds.Count}: {string.Join(" ", mm.Seconds.Select(x => (x * 1000).ToString("F0", CultureInfo.InvariantCulture)))} ms)");
            if (s.DType != ScalarType.Float32)
            {
                var low = MatmulPeak.Measure(cpu, s.DType, 512, iterations: 5);
                Console.WriteLine($"{ModelBenchmark.DTypeName(s.DType)} matmul: {low.FlopsPerSecond / 1e9:F1} GFLOP/s (512x512)" +
                    (low.FlopsPerSecond < mm.FlopsPerSecond / 2 ? $" - slower than float32 on this CPU; peak_fraction stays relative to float32" : ""));
            }
        }

        var records = new List<BenchRecord>();
        Console.WriteLine();
        Console.WriteLine($"{"model",-14} {"res",5} {"batch",5} {"tokens",7} {"img/s",9} {"ms/img",9} {"peak MB",9} {"GFLOP/img",10} {"peak frac",9}");
        for (int i = 0; i < s.Res.Length; i++)
        {
            var group = s.Models.Select(model => new BenchConfig(model, s.Res[i], s.Batch[i], s.Mode, s.Device, s.DType, s.Warmup, s.Iters, kernels)).ToList();
            foreach (var record in ModelBenchmark.RunTogether(group, peak))
            {
                records.Add(record);
                PrintRow(record);
            }
        }
        var memSource = records.Select(r => r.MemSource).FirstOrDefault(m => m is not null);
        if (memSource is not null) Console.WriteLine($"peak memory: {memSource}");

        if (s.Models.Length >= 2)
        {
            Console.WriteLine();
            foreach (var other in s.Models.Skip(1))
                PrintComparison(BenchComparison.Compare(records, s.Models[0], other));
        }

        if (jsonFile is not null)
        {
            ModelBenchmark.WriteJson(jsonFile.FullName, records);
            Console.WriteLine($"wrote {jsonFile.FullName}");
        }
        if (plotFile is not null)
        {
            SavePlot(records, s, plotFile.FullName);
            Console.WriteLine($"wrote {plotFile.FullName}");
        }
        return records.Any(r => r.Error is not null) ? 1 : 0;
    }

    private static void PrintRow(BenchRecord r)
    {
        if (r.Error is not null)
        {
            Console.WriteLine($"{r.Model,-14} {r.Res,5} {r.Batch,5} {r.Tokens,7}  FAILED: {r.Error}");
            return;
        }
        string frac = r.PeakFraction is double f ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
        string mem = r.PeakMemMb is double m ? m.ToString("F0", CultureInfo.InvariantCulture) : "-";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Model,-14} {r.Res,5} {r.Batch,5} {r.Tokens,7} {r.ImgPerS,9:F3} {r.MsPerImage,9:F1} {mem,9} {r.GflopsPerImg,10:F2} {frac,9}"));
    }

    private static void PrintComparison(BenchComparison c)
    {
        if (c.Rows.Count == 0) return;
        Console.WriteLine($"{c.Model} vs {c.Baseline}:");
        foreach (var row in c.Rows)
        {
            string mem = row.MemoryRatio is double m ? m.ToString("F2", CultureInfo.InvariantCulture) + "x memory" : "memory n/a";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {row.Res,5} ({row.Tokens} tokens): {row.SpeedRatio:F2}x speed, {mem}"));
        }
        Console.WriteLine(c.OvertakesAt is int at
            ? $"  {c.Model} is faster than {c.Baseline} from {at}x{at} on (among the measured resolutions)"
            : $"  {c.Model} is not faster than {c.Baseline} at the largest measured resolution");
    }

    /// <summary>Two log-log panels: milliseconds per image and peak memory against tokens, one line per model.</summary>
    private static void SavePlot(IReadOnlyList<BenchRecord> records, Settings s, string path)
    {
        var time = new Plot();
        var memory = new Plot();
        foreach (var model in s.Models)
        {
            var rows = records.Where(r => r.Model == model && r.ImgPerS is > 0).OrderBy(r => r.Tokens).ToList();
            if (rows.Count == 0) continue;
            var x = rows.Select(r => Math.Log10(r.Tokens)).ToArray();
            var t = time.Add.Scatter(x, rows.Select(r => Math.Log10(r.MsPerImage!.Value)).ToArray());
            t.LegendText = model;
            var withMem = rows.Where(r => r.PeakMemMb is > 0).ToList();
            if (withMem.Count > 0)
            {
                var m = memory.Add.Scatter(withMem.Select(r => Math.Log10(r.Tokens)).ToArray(), withMem.Select(r => Math.Log10(r.PeakMemMb!.Value)).ToArray());
                m.LegendText = model;
            }
        }
        string what = $"{s.Device} {ModelBenchmark.DTypeName(s.DType)} {s.Mode.ToString().ToLowerInvariant()}";
        var ok = records.Where(r => r.ImgPerS is > 0).ToList();
        var logTokens = ok.Select(r => Math.Log10(r.Tokens)).ToList();
        Style(time, $"Time per image ({what})", "ms per image", logTokens, ok.Select(r => Math.Log10(r.MsPerImage!.Value)));
        Style(memory, $"Peak memory ({what})", "peak memory (MiB)", logTokens, ok.Where(r => r.PeakMemMb is > 0).Select(r => Math.Log10(r.PeakMemMb!.Value)));
        var figure = new Multiplot();
        figure.Reset(time);
        figure.AddPlot(memory);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        // Render beside the target, then rename, so that a reader never sees half a PNG.
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.png");
        try
        {
            figure.SavePng(temp, 1400, 560);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static void Style(Plot plot, string title, string yLabel, IEnumerable<double> logX, IEnumerable<double> logY)
    {
        plot.Title(title);
        plot.XLabel("tokens (log scale)");
        plot.YLabel($"{yLabel} (log scale)");
        plot.Axes.Bottom.TickGenerator = LogTicks(logX);
        plot.Axes.Left.TickGenerator = LogTicks(logY);
        plot.ShowLegend(Alignment.UpperLeft);
    }

    // The data are log10 values: put ticks at 1, 2 and 5 times each power of ten, labelled with the values themselves.
    private static ScottPlot.TickGenerators.NumericManual LogTicks(IEnumerable<double> logValues)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var values = logValues.ToList();
        if (values.Count == 0) return ticks;
        int lo = (int)Math.Floor(values.Min()) - 1, hi = (int)Math.Ceiling(values.Max()) + 1;
        for (int k = lo; k <= hi; k++)
        {
            foreach (int m in new[] { 1, 2, 5 })
            {
                double v = m * Math.Pow(10, k);
                ticks.AddMajor(Math.Log10(v), v.ToString(v >= 1 ? "#,0" : "0.###", CultureInfo.InvariantCulture));
            }
        }
        return ticks;
    }
}
