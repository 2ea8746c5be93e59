using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VisionRwkv.Cli.Training;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Labeling;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands;

/// <summary>
/// <c>rwkv label MODEL INPUT... --out DIR</c>: labels photo collections into a resumable journal, exports and XMP
/// sidecars; <c>rwkv label merge DIR...</c> combines the journals of shards. Exit code 0 when every file found was
/// labeled, 2 when some were skipped or unsupported (each has its row), 1 on an error.
/// </summary>
internal static class LabelCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A run folder of 'rwkv train', or a checkpoint (.pth/.safetensors) with --classes." };
        var inputs = new Argument<string[]>("inputs") { Description = "Photo folders (scanned recursively) and/or files.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: the journal (labels.sqlite, or one per shard) and exports.", Required = true };
        var classes = new Option<string?>("--classes") { Description = "Label names for a checkpoint: one per line (ImageNet's 'n01440764 tench' lines work) or a JSON list." };
        var arch = new Option<string>("--arch") { Description = "Registry model of a checkpoint (rwkv models).", DefaultValueFactory = _ => "vrwkv_t" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Weights inside a run folder (default: the run's best)." };
        var ema = new Option<bool>("--ema") { Description = "Use the EMA weights of the run's best checkpoint." };
        var inputSize = new Option<int?>("--input-size") { Description = "Square input size for a checkpoint (default: the model's)." };
        var topK = new Option<int>("--top-k", "-k") { Description = "Labels kept per photo.", DefaultValueFactory = _ => 5 };
        var minScore = new Option<float?>("--min-score") { Description = "Drop labels scoring below this (default 0; multi-label runs: each label's threshold, else 0.5)." };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Images per model call.", DefaultValueFactory = _ => 16 };
        var threads = new Option<int>("--threads") { Description = "Decode threads (0: one per core).", DefaultValueFactory = _ => 0 };
        var torchThreads = new Option<int?>("--torch-threads") { Description = "LibTorch intra-op threads (default: one per core)." };
        var overlap = new Option<bool>("--overlap") { Description = "Let decoding run during inference (default: decoders pause while the model runs, so they never compete for cores)." };
        var include = new Option<string[]>("--include") { Description = "Only files matching these globs (e.g. '*.jpg', '2023/**'); case-insensitive; no '/' means any depth.", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude") { Description = "Leave out files matching these globs (e.g. '@eaDir/**', '*.tmp').", AllowMultipleArgumentsPerToken = true };
        var hidden = new Option<bool>("--hidden") { Description = "Include hidden files and folders (names starting with '.')." };
        var symlinks = new Option<bool>("--follow-symlinks") { Description = "Follow symbolic links (loops are cut)." };
        var force = new Option<bool>("--force") { Description = "Label every file again, even those the journal already has." };
        var hash = new Option<bool>("--hash") { Description = "Record SHA-256 of each file; a touched or copied file with the same content keeps its labels." };
        var shard = new Option<string?>("--shard") { Description = "Label only shard i of N (i/N), by a stable hash of the relative path." };
        var shards = new Option<int?>("--shards") { Description = "Number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes); also RWKV_SHARDS." };
        var export = new Option<string>("--export") { Description = "Exports written on completion: any of csv,jsonl,parquet, or none.", DefaultValueFactory = _ => "csv" };
        var xmp = new Option<string>("--xmp") { Description = "none, or sidecar: merge keywords into XMP sidecars (image files are never modified).", DefaultValueFactory = _ => "none" };
        var xmpNaming = new Option<string>("--xmp-naming") { Description = "Sidecar names: digikam (photo.jpg.xmp, also darktable/Immich) or lightroom (photo.xmp).", DefaultValueFactory = _ => "digikam" };
        var xmpRoot = new Option<string?>("--xmp-root") { Description = "Root of the hierarchical keywords, '|'-separated (default AI|<model>)." };
        var xmpMin = new Option<float>("--xmp-min-score") { Description = "Only labels scoring at least this become keywords.", DefaultValueFactory = _ => 0.5f };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the sidecar changes instead of writing them (the journal is still written)." };
        var maxPixels = new Option<long>("--max-pixels") { Description = "Refuse images declaring more pixels (decompression bombs).", DefaultValueFactory = _ => DecodeOptions.Default.MaxPixels };
        var maxMb = new Option<long>("--max-file-mb") { Description = "Refuse files larger than this many MiB.", DefaultValueFactory = _ => DecodeOptions.Default.MaxFileBytes >> 20 };
        var command = new Command("label", "Label photo collections with a model: resumable SQLite journal, CSV/JSONL/Parquet exports, merged XMP keywords, shards.")
        {
            model, inputs, output, classes, arch, checkpoint, ema, inputSize, topK, minScore, batch, threads, torchThreads, overlap, include, exclude,
            hidden, symlinks, force, hash, shard, shards, export, xmp, xmpNaming, xmpRoot, xmpMin, dryRun, maxPixels, maxMb,
        };
        command.Subcommands.Add(MergeCommand());
        command.SetAction(parse =>
        {
            var formats = ParseExports(parse.GetValue(export)!);
            var xmpMode = parse.GetValue(xmp)!.ToLowerInvariant();
            if (xmpMode is not ("none" or "sidecar"))
                throw new ArgumentException($"--xmp {xmpMode}: use none or sidecar");
            var naming = parse.GetValue(xmpNaming)!.ToLowerInvariant() switch
            {
                "digikam" or "darktable" or "appended" => XmpNaming.Appended,
                "lightroom" => XmpNaming.Lightroom,
                var n => throw new ArgumentException($"--xmp-naming {n}: use digikam or lightroom"),
            };
            var shardSpec = parse.GetValue(shard) is { } s ? Shard.Parse(s)
                : Shard.FromEnvironment(Environment.GetEnvironmentVariable, parse.GetValue(shards)) ?? Shard.All;
            set_num_threads(parse.GetValue(torchThreads) ?? Math.Max(1, Environment.ProcessorCount));
            using var labeler = ClassifierLabeler.Open(parse.GetValue(model)!, parse.GetValue(classes), parse.GetValue(arch)!, parse.GetValue(checkpoint),
                parse.GetValue(ema), parse.GetValue(inputSize));
            var options = new LabelOptions
            {
                OutputDirectory = parse.GetValue(output)!,
                TopK = parse.GetValue(topK),
                MinScore = parse.GetValue(minScore),
                BatchSize = parse.GetValue(batch),
                DecodeThreads = parse.GetValue(threads),
                PauseDecodeDuringInference = !parse.GetValue(overlap),
                Force = parse.GetValue(force),
                ContentHash = parse.GetValue(hash),
                Shard = shardSpec,
                Scan = new ScanOptions
                {
                    Include = parse.GetValue(include) ?? [],
                    Exclude = parse.GetValue(exclude) ?? [],
                    Hidden = parse.GetValue(hidden),
                    FollowSymlinks = parse.GetValue(symlinks),
                },
                Decode = DecodeOptions.Default with { MaxPixels = parse.GetValue(maxPixels), MaxFileBytes = parse.GetValue(maxMb) << 20 },
                Xmp = xmpMode == "sidecar"
                    ? new XmpOptions { Naming = naming, Root = parse.GetValue(xmpRoot), MinScore = parse.GetValue(xmpMin), DryRun = parse.GetValue(dryRun) }
                    : null,
            };
            Console.WriteLine($"model  {labeler.ModelId} ({labeler.Labels.Count} labels{(labeler.MultiLabel ? ", multi-label" : "")}, input {labeler.Input.Channels}x{labeler.Input.Height}x{labeler.Input.Width})");
            Console.WriteLine($"shard  {shardSpec}, {get_num_threads()} torch threads, {(options.DecodeThreads > 0 ? options.DecodeThreads : Environment.ProcessorCount)} decode threads");
            var summary = RunWithProgress(labeler, parse.GetValue(inputs)!, options);
            PrintSummary(summary);
            if (formats.Count > 0)
            {
                using var journal = Journal.Open(summary.JournalPath);
                foreach (var f in JournalExport.WriteAll(journal, formats))
                    Console.WriteLine($"export {f}");
            }
            return summary.AnyNotLabeled ? 2 : 0;
        });
        return command;
    }

    private static Command MergeCommand()
    {
        var dirs = new Argument<string[]>("journals") { Description = "Output folders of shards (their *.sqlite journals) or journal files.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out", "-o") { Description = "Merged journal (default: labels.sqlite in the first folder)." };
        var allowMixed = new Option<bool>("--allow-mixed-models") { Description = "Merge journals labeled by different models." };
        var export = new Option<string>("--export") { Description = "Exports of the merged journal: any of csv,jsonl,parquet, or none.", DefaultValueFactory = _ => "csv" };
        var command = new Command("merge", "Combine label journals (shards) into one; idempotent; refuses to mix models unless told.") { dirs, output, allowMixed, export };
        command.SetAction(parse =>
        {
            var inputs = parse.GetValue(dirs)!;
            var target = parse.GetValue(output) ?? Path.Combine(Directory.Exists(inputs[0]) ? inputs[0] : Path.GetDirectoryName(Path.GetFullPath(inputs[0]))!, "labels.sqlite");
            if (Directory.Exists(target))
                target = Path.Combine(target, "labels.sqlite");
            var journals = JournalMerge.Find(inputs, exclude: target);
            var report = JournalMerge.Merge(journals, target, parse.GetValue(allowMixed));
            Console.WriteLine($"merged {report.Sources} journals ({report.RowsRead} rows) into {report.Target}: {report.RowsWritten} rows written; models: {string.Join(", ", report.ModelIds)}");
            var formats = ParseExports(parse.GetValue(export)!);
            if (formats.Count > 0)
            {
                using var journal = Journal.Open(report.Target);
                foreach (var f in JournalExport.WriteAll(journal, formats))
                    Console.WriteLine($"export {f}");
            }
            return 0;
        });
        return command;
    }

    private static List<string> ParseExports(string text)
    {
        if (text.Equals("none", StringComparison.OrdinalIgnoreCase))
            return [];
        var formats = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(f => f.ToLowerInvariant()).ToList();
        foreach (var f in formats)
        {
            if (!JournalExport.Formats.Contains(f))
                throw new ArgumentException($"--export {f}: use csv, jsonl, parquet (comma-separated) or none");
        }
        return formats;
    }

    private static LabelSummary RunWithProgress(IImageLabeler labeler, string[] inputs, LabelOptions options)
    {
        if (!ConsoleReporting.Interactive)
        {
            var last = DateTime.MinValue;
            var plain = new InlineProgress(p =>
            {
                // A line every 10 s (and at the end), not per batch: logs of long jobs stay readable.
                if (p.Done < p.Total && DateTime.UtcNow - last < TimeSpan.FromSeconds(10))
                    return;
                last = DateTime.UtcNow;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{DateTime.Now:HH:mm:ss}] {p.Done}/{p.Total} files, {p.FilesPerSecond:F1} files/s, ETA {Eta(p.Eta)}  {Counts(p.Counts)}"));
            });
            return LabelJob.Run(labeler, inputs, options, plain);
        }
        LabelSummary summary = null!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("labeling", maxValue: 1);
                summary = LabelJob.Run(labeler, inputs, options, new InlineProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{p.FilesPerSecond:F1} files/s  {Counts(p.Counts)}"));
                }));
                task.Value = task.MaxValue;
            });
        return summary;
    }

    private static string Eta(TimeSpan? eta) => eta is { } e ? e.ToString(e.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture) : "-";

    private static string Counts(IReadOnlyDictionary<string, int> counts) =>
        string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

    private static void PrintSummary(LabelSummary s)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"found {s.Found} files: {s.AlreadyDone} already in the journal, {s.Processed} processed in {s.Seconds:F1} s"));
        foreach (var (key, n) in s.Outcomes)
            Console.WriteLine($"  {key,-28} {n}");
        if (s.Excluded.Count > 0)
            Console.WriteLine("not scanned: " + string.Join(", ", s.Excluded.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}")));
        if (s.Xmp is { } x)
        {
            Console.WriteLine($"xmp    {x.Created} created, {x.Updated} updated, {x.Unchanged} unchanged, {x.NoKeywords} without a label above the minimum score");
            foreach (var line in x.Planned)
                Console.WriteLine($"  would {line}");
            foreach (var e in x.Errors)
                Console.Error.WriteLine($"xmp: {e}");
        }
        Console.WriteLine($"journal {s.JournalPath}");
    }

    /// <summary>Reports on the job's own thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class InlineProgress(Action<LabelProgress> report) : IProgress<LabelProgress>
    {
        public void Report(LabelProgress value) => report(value);
    }
}
