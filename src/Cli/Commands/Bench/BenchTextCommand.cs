using System.CommandLine;
using System.Globalization;
using ScottPlot;
using VisionRwkv.Benchmarks;
using VisionRwkv.Text;
using VisionRwkv.Text.Gpt;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary>
/// <c>rwkv bench text</c>: RWKV-4 (recurrent) against the GPT (key/value cache): time per generated token and carried
/// memory against the context length, and training tokens/s at several sequence lengths; a table, JSON and a plot.
/// </summary>
internal static class BenchTextCommand
{
    public static Command Create()
    {
        var contexts = new Option<string>("--contexts") { Description = "Context lengths for generation.", DefaultValueFactory = _ => "128,1024,4096,16384" };
        var steps = new Option<int>("--steps") { Description = "Timed tokens per context (median reported).", DefaultValueFactory = _ => 16 };
        var seqLens = new Option<string>("--seq-lens") { Description = "Training sequence lengths.", DefaultValueFactory = _ => "256,1024,2048" };
        var tokensPerStep = new Option<int>("--tokens-per-step") { Description = "Tokens per training step (batch = this / seq-len).", DefaultValueFactory = _ => 4096 };
        var iters = new Option<int>("--iters") { Description = "Timed training steps per length (median reported).", DefaultValueFactory = _ => 3 };
        var size = new Option<string>("--size") { Description = "6x256 (rwkv4_byte_6x256 vs gpt_byte_6x256) or 2x64 (a quick check).", DefaultValueFactory = _ => "6x256" };
        var skipTrain = new Option<bool>("--no-train") { Description = "Only the generation part." };
        var skipGenerate = new Option<bool>("--no-generate") { Description = "Only the training part." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op CPU threads (default: LibTorch's choice)." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the records as a JSON list to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Write a PNG: ms per token against context, training tokens/s against sequence length." };
        var command = new Command("text", "RWKV-4 recurrent vs GPT with KV cache: per-token time and memory against context; training tokens/s.")
        {
            contexts, steps, seqLens, tokensPerStep, iters, size, skipTrain, skipGenerate, threads, json, plot,
        };
        command.SetAction(parse =>
        {
            try
            {
                var (rwkv, gpt) = parse.GetValue(size) switch
                {
                    "6x256" => (RwkvConfig.Byte6x256, GptConfig.Byte6x256),
                    "2x64" => (RwkvConfig.Byte2x64, GptConfig.Byte2x64),
                    var s => throw new ArgumentException($"--size must be 6x256 or 2x64, got '{s}'"),
                };
                var config = new TextBenchConfig(rwkv, gpt, Ints(parse.GetValue(contexts)!, "--contexts"), Positive(parse.GetValue(steps), "--steps"), 3,
                    Ints(parse.GetValue(seqLens)!, "--seq-lens"), Positive(parse.GetValue(tokensPerStep), "--tokens-per-step"), Positive(parse.GetValue(iters), "--iters"));
                if (parse.GetValue(threads) is int t) set_num_threads(t);
                return Run(config, !parse.GetValue(skipGenerate), !parse.GetValue(skipTrain), parse.GetValue(json), parse.GetValue(plot));
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    private static int Run(TextBenchConfig config, bool generate, bool train, FileInfo? json, FileInfo? plot)
    {
        Console.WriteLine($"cpu, float32, {get_num_threads()} intra-op threads; rwkv4 {config.Rwkv.NLayer}x{config.Rwkv.NEmbd} (ffn {config.Rwkv.DimFfn}) vs " +
                          $"gpt {config.Gpt.NLayer}x{config.Gpt.NEmbd} ({config.Gpt.NHead} heads), vocab {config.Rwkv.VocabSize}");
        var records = new List<TextBenchRecord>();
        if (generate)
        {
            Console.WriteLine();
            Console.WriteLine($"generation: every context ingested in parallel mode, then single-token steps of all (model, context) pairs " +
                              $"in {config.Steps} interleaved rounds (median); state = what a step carries (RWKV state / filled KV cache)");
            Console.WriteLine($"{"model",-6} {"context",8} {"ms/token",9} {"state MB",10} {"prefill s",9}");
            var gen = TextBenchmark.Generation(config, r => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model,-6} {r.Context,8} {r.MsPerToken,9:F3} {r.StateBytes / 1048576.0,10:F3} {r.PrefillSeconds,9:F2}")));
            records.AddRange(gen);
            if (gen.FirstOrDefault()?.RssMb is double peak)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"process peak RSS with every context alive: {peak:F0} MB"));
            foreach (var model in new[] { "rwkv4", "gpt" })
            {
                var rows = records.Where(r => r.Kind == "generate" && r.Model == model).OrderBy(r => r.Context).ToList();
                if (rows.Count < 2) continue;
                var (a, b) = (rows[0], rows[^1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{model}: time per token at {b.Context} vs {a.Context} tokens of context: {b.MsPerToken / a.MsPerToken:F2}x; carried state {a.StateBytes / 1048576.0:F2} -> {b.StateBytes / 1048576.0:F2} MB"));
            }
        }
        if (train)
        {
            Console.WriteLine();
            Console.WriteLine($"training: forward, cross-entropy, backward, fused AdamW; {config.TokensPerStep} tokens per step, median of {config.TrainIterations} (models interleaved)");
            Console.WriteLine($"{"model",-6} {"seq",6} {"batch",6} {"tokens/s",10} {"params M",9} {"block M",8}");
            var rows = TextBenchmark.Training(config, r => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model,-6} {r.SeqLen,6} {r.Batch,6} {r.TokensPerSecond,10:F0} {r.Params / 1e6,9:F3} {r.BlockParams / 1e6,8:F3}")));
            records.AddRange(rows);
            foreach (var t in config.SeqLens)
            {
                var rw = rows.FirstOrDefault(r => r.Model == "rwkv4" && r.SeqLen == t);
                var gp = rows.FirstOrDefault(r => r.Model == "gpt" && r.SeqLen == t);
                if (rw is not null && gp is not null)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"training at seq {t}: rwkv4 / gpt tokens/s = {rw.TokensPerSecond / gp.TokensPerSecond:F2}x"));
            }
        }
        if (json is not null)
        {
            TextBenchmark.WriteJson(json.FullName, records);
            Console.WriteLine($"wrote {json.FullName}");
        }
        if (plot is not null)
        {
            SavePlot(records, plot.FullName);
            Console.WriteLine($"wrote {plot.FullName}");
        }
        return 0;
    }

    private static void SavePlot(IReadOnlyList<TextBenchRecord> records, string path)
    {
        var time = new Plot();
        var memory = new Plot();
        var throughput = new Plot();
        foreach (var model in new[] { "rwkv4", "gpt" })
        {
            var gen = records.Where(r => r.Kind == "generate" && r.Model == model).OrderBy(r => r.Context).ToList();
            if (gen.Count > 0)
            {
                var s = time.Add.Scatter(gen.Select(r => Math.Log2(r.Context!.Value)).ToArray(), gen.Select(r => r.MsPerToken!.Value).ToArray());
                s.LegendText = model == "rwkv4" ? "RWKV-4 (recurrent state)" : "GPT (KV cache)";
                var m = memory.Add.Scatter(gen.Select(r => Math.Log2(r.Context!.Value)).ToArray(), gen.Select(r => Math.Log10(r.StateBytes!.Value / 1048576.0)).ToArray());
                m.LegendText = s.LegendText;
            }
            var tr = records.Where(r => r.Kind == "train" && r.Model == model).OrderBy(r => r.SeqLen).ToList();
            if (tr.Count > 0)
            {
                var s = throughput.Add.Scatter(tr.Select(r => Math.Log2(r.SeqLen!.Value)).ToArray(), tr.Select(r => r.TokensPerSecond!.Value).ToArray());
                s.LegendText = model;
            }
        }
        time.Title("Generation: time per token vs tokens in context");
        time.XLabel("tokens in context (log scale)");
        time.YLabel("ms per token");
        memory.Title("Generation: carried state vs tokens in context");
        memory.XLabel("tokens in context (log scale)");
        memory.YLabel("state MB (log scale)");
        throughput.Title("Training throughput vs sequence length");
        throughput.XLabel("sequence length (log scale)");
        throughput.YLabel("tokens per second");
        var contexts = records.Where(r => r.Context is not null).Select(r => r.Context!.Value).ToList();
        var lengths = records.Where(r => r.SeqLen is not null).Select(r => r.SeqLen!.Value).ToList();
        time.Axes.Bottom.TickGenerator = Pow2Ticks(contexts);
        memory.Axes.Bottom.TickGenerator = Pow2Ticks(contexts);
        memory.Axes.Left.TickGenerator = Log10Ticks(records.Where(r => r.StateBytes is > 0).Select(r => r.StateBytes!.Value / 1048576.0));
        throughput.Axes.Bottom.TickGenerator = Pow2Ticks(lengths);
        var panels = new List<Plot>();
        if (contexts.Count > 0) panels.AddRange([time, memory]);
        if (lengths.Count > 0) panels.Add(throughput);
        foreach (var p in panels) p.ShowLegend(Alignment.UpperLeft);
        var figure = new Multiplot();
        figure.Reset(panels[0]);
        foreach (var p in panels.Skip(1)) figure.AddPlot(p);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.png");
        try
        {
            figure.SavePng(temp, 600 * panels.Count, 560);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static ScottPlot.TickGenerators.NumericManual Pow2Ticks(IEnumerable<int> values)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var v in values.Distinct().Order()) ticks.AddMajor(Math.Log2(v), v.ToString("#,0", CultureInfo.InvariantCulture));
        return ticks;
    }

    /// <summary>Ticks at 1, 2 and 5 times each power of ten for log10-plotted values, labelled with the values.</summary>
    private static ScottPlot.TickGenerators.NumericManual Log10Ticks(IEnumerable<double> values)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var logs = values.Select(Math.Log10).ToList();
        if (logs.Count == 0) return ticks;
        for (int k = (int)Math.Floor(logs.Min()) - 1; k <= (int)Math.Ceiling(logs.Max()) + 1; k++)
            foreach (int m in new[] { 1, 2, 5 })
            {
                double v = m * Math.Pow(10, k);
                ticks.AddMajor(Math.Log10(v), v.ToString(v >= 1 ? "#,0" : "0.###", CultureInfo.InvariantCulture));
            }
        return ticks;
    }

    private static int[] Ints(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException($"{option} is empty");
        return items.Select(i => int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
            ? v : throw new ArgumentException($"{option}: '{i}' is not a positive integer")).ToArray();
    }

    private static int Positive(int v, string option) => v > 0 ? v : throw new ArgumentException($"{option} must be positive, got {v}");
}
