using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;

namespace VisionRwkv.Labeling;

/// <summary>Settings of a labeling job.</summary>
public sealed record LabelOptions
{
    /// <summary>Folder of the journal (and of exports by default).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Labels kept per file, best first.</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// Labels scoring below this are not kept. Null: 0 for single-label models; for multi-label models each label's own
    /// threshold (<see cref="IImageLabeler.Thresholds"/>) or else 0.5.
    /// </summary>
    public float? MinScore { get; init; }

    /// <summary>Label every file again, even those the journal already has.</summary>
    public bool Force { get; init; }

    /// <summary>
    /// Record each file's SHA-256; a file whose size or time changed but whose content did not (a copy, a touch) keeps
    /// its row instead of being labeled again.
    /// </summary>
    public bool ContentHash { get; init; }

    public int BatchSize { get; init; } = 16;

    /// <summary>Decode threads; 0 = one per core.</summary>
    public int DecodeThreads { get; init; }

    /// <summary>
    /// Decode threads pause while the model runs, so the two never compete for the cores (LibTorch's intra-op threads
    /// use every core; oversubscribing them slows both more than it overlaps). Decoding still overlaps everything else
    /// the consumer does (journal, XMP, top-k). False lets decoding run freely during inference.
    /// </summary>
    public bool PauseDecodeDuringInference { get; init; } = true;

    public Shard Shard { get; init; } = Shard.All;

    public ScanOptions Scan { get; init; } = new();

    public DecodeOptions Decode { get; init; } = DecodeOptions.Default;

    /// <summary>XMP sidecars to write (null: none).</summary>
    public XmpOptions? Xmp { get; init; }
}

/// <summary>Where a job stands, reported after each batch.</summary>
public sealed record LabelProgress(int Done, int Total, IReadOnlyDictionary<string, int> Counts, double FilesPerSecond, TimeSpan? Eta);

/// <summary>What a job did.</summary>
/// <param name="Found">Files the scan found in this shard.</param>
/// <param name="AlreadyDone">Of those, files the journal already had (not processed again).</param>
/// <param name="Processed">Files this run processed.</param>
/// <param name="Outcomes">Final outcome of every file found, counted: <c>labeled</c>, <c>skipped: truncated</c>, <c>unsupported: HEIC</c>, ...</param>
/// <param name="Excluded">Files the scan left out, by why (hidden, symlink, excluded, xmp sidecar, other shards, ...).</param>
/// <param name="Seconds">Wall time of the run.</param>
/// <param name="JournalPath">The journal written.</param>
/// <param name="Xmp">What the sidecar step did (null without sidecars).</param>
public sealed record LabelSummary(
    int Found,
    int AlreadyDone,
    int Processed,
    IReadOnlyDictionary<string, int> Outcomes,
    IReadOnlyDictionary<string, int> Excluded,
    double Seconds,
    string JournalPath,
    XmpReport? Xmp)
{
    public int Labeled => Outcomes.GetValueOrDefault(LabelStatus.Labeled);

    /// <summary>True when any file found is not labeled (skipped or unsupported).</summary>
    public bool AnyNotLabeled => Outcomes.Any(o => o.Key != LabelStatus.Labeled && o.Value > 0);
}

/// <summary>
/// Labels photo collections: scan, skip what the journal already has, decode on worker threads (the
/// <see cref="DataLoader"/>) while the consumer runs the model, keep the top-k labels, write each finished batch to the
/// journal in one transaction, and optionally merge keywords into XMP sidecars. Every file found ends with exactly one
/// row: labeled, skipped (with a reason) or unsupported (with its format).
/// </summary>
public static class LabelJob
{
    public static LabelSummary Run(IImageLabeler labeler, IReadOnlyList<string> inputs, LabelOptions options,
        IProgress<LabelProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TopK, 1);
        var clock = Stopwatch.StartNew();
        var outDir = Path.GetFullPath(options.OutputDirectory);
        var scan = FileScanner.Scan(inputs, options.Scan with { SkipDirectories = [.. options.Scan.SkipDirectories, outDir] });
        var excluded = new Dictionary<string, int>(scan.Excluded, StringComparer.Ordinal);
        var files = scan.Files.Where(f => options.Shard.Contains(f.RelativePath)).ToList();
        if (files.Count != scan.Files.Count)
            excluded["other shards"] = scan.Files.Count - files.Count;

        using var journal = Journal.Open(Path.Combine(outDir, options.Shard.JournalName));
        journal.SetMeta("shard", options.Shard.ToString());
        var existing = journal.ReadAll().ToDictionary(r => r.Path, StringComparer.Ordinal);
        var todo = new List<ScannedFile>();
        var refreshed = new List<JournalRow>();
        foreach (var f in files)
        {
            if (!existing.TryGetValue(f.Path, out var row) || options.Force || NeedsRedo(row, labeler.ModelId))
            {
                todo.Add(f);
                continue;
            }
            if (row.Matches(f))
                continue;
            // Changed size or time: with content hashes, an unchanged content keeps its labels (the row is refreshed).
            if (options.ContentHash && row.ContentHash is not null && TryHash(f.Path) == row.ContentHash)
                refreshed.Add(row with { Size = f.Size, MtimeMs = f.MtimeMs });
            else
                todo.Add(f);
        }
        journal.Write(refreshed);
        var alreadyDone = files.Count - todo.Count;

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var done = 0;
        XmpWriter? xmp = options.Xmp is null ? null : new XmpWriter(options.Xmp, labeler.ModelId);
        void Report()
        {
            var seconds = clock.Elapsed.TotalSeconds;
            var rate = done / Math.Max(seconds, 1e-6);
            progress?.Report(new LabelProgress(done, todo.Count, new Dictionary<string, int>(counts), rate,
                done > 0 ? TimeSpan.FromSeconds((todo.Count - done) / rate) : null));
        }
        void Commit(List<JournalRow> rows)
        {
            // Sidecars first, then the journal: a kill between the two redoes the batch, and the merge adds nothing twice.
            if (xmp is not null)
            {
                foreach (var r in rows)
                {
                    if (r.Status == LabelStatus.Labeled)
                        xmp.Write(r);
                }
            }
            journal.Write(rows);
            foreach (var r in rows)
            {
                var key = OutcomeKey(r);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            done += rows.Count;
            Report();
        }

        // 1. Files that need no decoder: unsupported formats, empty, unreadable, too large on disk.
        var toDecode = new List<ScannedFile>();
        var quick = new List<JournalRow>();
        foreach (var f in todo)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Classify(f, options) is { } row)
            {
                quick.Add(row);
                if (quick.Count >= 256)
                {
                    Commit(quick);
                    quick = [];
                }
            }
            else
                toDecode.Add(f);
        }
        Commit(quick);

        // 2. Decode on the loader's workers, label on this thread, one journal transaction per batch.
        if (toDecode.Count > 0)
        {
            var gate = options.PauseDecodeDuringInference ? new DecodeGate() : null;
            var dataset = new LabelingDataset(toDecode, options.ContentHash, gate);
            var pipeline = ImagePipeline.Eval(labeler.Input, options.Decode);
            var loader = new DataLoader(dataset, pipeline, new LoaderOptions
            {
                BatchSize = options.BatchSize,
                Threads = options.DecodeThreads > 0 ? options.DecodeThreads : Math.Max(1, Environment.ProcessorCount),
                Shuffle = false,
            });
            var recorded = 0; // every index below this has a row
            var labeledIndices = new HashSet<int>();
            List<JournalRow> Failures(int upTo)
            {
                var rows = new List<JournalRow>();
                upTo = Math.Min(upTo, toDecode.Count);
                for (; recorded < upTo; recorded++)
                {
                    if (dataset.Failures.TryGetValue(recorded, out var e))
                        rows.Add(FailureRow(toDecode[recorded], e, dataset.Hashes.GetValueOrDefault(recorded)));
                    else if (!dataset.Decoded.ContainsKey(recorded) || !labeledIndices.Contains(recorded))
                    {
                        // Decoded, but the loader dropped it afterwards (a transform refused it): it still gets its row.
                        var reason = loader.Skipped.FirstOrDefault(k => k.Index == recorded)?.Reason ?? "the image could not be prepared for the model";
                        rows.Add(FailureRow(toDecode[recorded], new ImageDecodeException(toDecode[recorded].Path, reason), dataset.Hashes.GetValueOrDefault(recorded)));
                    }
                }
                return rows;
            }
            foreach (var batch in loader.Epoch(0, cancellationToken))
            {
                using (batch)
                {
                    var rows = Failures(batch.Number * options.BatchSize);
                    float[] scores;
                    gate?.Close();
                    try
                    {
                        scores = labeler.Score(batch.Inputs);
                    }
                    finally
                    {
                        gate?.Open();
                    }
                    var k = labeler.Labels.Count;
                    var time = Journal.Now();
                    labeledIndices.UnionWith(batch.Indices);
                    for (var i = 0; i < batch.Size; i++)
                    {
                        var index = batch.Indices[i];
                        var f = toDecode[index];
                        var info = dataset.Decoded[index];
                        rows.Add(new JournalRow
                        {
                            Path = f.Path, Size = f.Size, MtimeMs = f.MtimeMs, ContentHash = dataset.Hashes.GetValueOrDefault(index),
                            Status = LabelStatus.Labeled, Format = info.Format, Width = info.Width, Height = info.Height,
                            Orientation = info.Orientation, Warning = info.WarningText, ModelId = labeler.ModelId,
                            Labels = TopLabels(scores.AsSpan(i * k, k), labeler, options), Time = time,
                        });
                    }
                    // Rows of this batch that failed to decode come after it, in index order.
                    var failures = Failures((batch.Number + 1) * options.BatchSize);
                    rows.AddRange(failures);
                    Commit(rows);
                }
            }
            Commit(Failures(toDecode.Count));
        }

        journal.Checkpoint();
        // Final outcomes of every file found (those done before this run included), from the journal.
        var final = journal.ReadAll().ToDictionary(r => r.Path, StringComparer.Ordinal);
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            var key = final.TryGetValue(f.Path, out var r) ? OutcomeKey(r) : "missing";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }
        return new LabelSummary(files.Count, alreadyDone, done, outcomes, excluded, clock.Elapsed.TotalSeconds, journal.Path, xmp?.Report);
    }

    /// <summary><c>labeled</c>, <c>skipped: reason</c> or <c>unsupported: format</c>.</summary>
    public static string OutcomeKey(JournalRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.Status switch
        {
            LabelStatus.Labeled => LabelStatus.Labeled,
            LabelStatus.Skipped => $"skipped: {row.Reason}",
            _ => $"unsupported: {row.Format}",
        };
    }

    /// <summary>
    /// The labels kept for one image: single-label models keep the top-k scores at or above the threshold; multi-label
    /// models keep every label at or above its own threshold, best first, at most k.
    /// </summary>
    public static IReadOnlyList<LabelScore> TopLabels(ReadOnlySpan<float> scores, IImageLabeler labeler, LabelOptions options)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(options);
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
            order[i] = i;
        var s = scores.ToArray();
        // Best first; equal scores by label index, so the order never depends on the sort's stability.
        Array.Sort(order, (a, b) => s[b] != s[a] ? s[b].CompareTo(s[a]) : a.CompareTo(b));
        var kept = new List<LabelScore>(options.TopK);
        foreach (var i in order)
        {
            if (kept.Count == options.TopK)
                break;
            var threshold = labeler.MultiLabel
                ? options.MinScore ?? labeler.Thresholds?[i] ?? 0.5f
                : options.MinScore ?? 0f;
            if (s[i] >= threshold)
                kept.Add(new LabelScore(labeler.Labels[i], s[i]));
        }
        return kept;
    }

    /// <summary>Rows redone without --force: unreadable files (maybe transient) and files labeled by another model.</summary>
    private static bool NeedsRedo(JournalRow row, string modelId) =>
        (row.Status == LabelStatus.Skipped && row.Reason == SkipReason.Unreadable)
        || (row.Status == LabelStatus.Labeled && row.ModelId != modelId);

    /// <summary>The row of a file that needs no decoder, or null when it must be decoded.</summary>
    private static JournalRow? Classify(ScannedFile f, LabelOptions options)
    {
        JournalRow Row(string status, string? reason, string? format, string? error) => new()
        {
            Path = f.Path, Size = f.Size, MtimeMs = f.MtimeMs, Status = status, Reason = reason, Format = format, Error = error, Time = Journal.Now(),
        };
        if (f.Size > options.Decode.MaxFileBytes)
            return Row(LabelStatus.Skipped, SkipReason.TooLarge, null, $"{f.Size} bytes, over the limit of {options.Decode.MaxFileBytes}");
        var head = new byte[FileFormat.HeadLength];
        int n;
        try
        {
            using var s = new FileStream(f.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Row(LabelStatus.Skipped, SkipReason.Unreadable, null, $"cannot read the file ({e.Message})");
        }
        if (n == 0)
            return Row(LabelStatus.Skipped, SkipReason.Empty, null, "the file is empty");
        var format = FileFormat.Detect(head.AsSpan(0, n), f.Path);
        if (format.Decodable)
            return null;
        if (format.IsUnknown)
        {
            // Unknown bytes under an image extension are a damaged image; anything else is a file of another kind.
            var ext = Path.GetExtension(f.Path);
            if (ImageDecoder.Extensions.Contains(ext) || ext.Equals(".jpe", StringComparison.OrdinalIgnoreCase) || ext.Equals(".mpo", StringComparison.OrdinalIgnoreCase))
                return Row(LabelStatus.Skipped, SkipReason.Corrupt, null, "not a recognised image (unknown file signature)");
            var name = ext.Length > 0 ? $"unknown ({ext.ToLowerInvariant()})" : "unknown";
            return Row(LabelStatus.Unsupported, null, name, "no decoder for this kind of file");
        }
        return Row(LabelStatus.Unsupported, null, format.Name, $"{format.Name} is not a supported format");
    }

    private static JournalRow FailureRow(ScannedFile f, ImageDecodeException e, string? hash) => new()
    {
        Path = f.Path, Size = f.Size, MtimeMs = f.MtimeMs, ContentHash = hash,
        Status = e.Failure == DecodeFailure.Unsupported ? LabelStatus.Unsupported : LabelStatus.Skipped,
        Reason = e.Failure switch
        {
            DecodeFailure.Unsupported => null,
            DecodeFailure.Truncated => SkipReason.Truncated,
            DecodeFailure.TooLarge => SkipReason.TooLarge,
            DecodeFailure.Empty => SkipReason.Empty,
            DecodeFailure.Unreadable => SkipReason.Unreadable,
            _ => SkipReason.Corrupt,
        },
        Format = e.Failure == DecodeFailure.Unsupported ? "unknown" : null,
        Error = e.Reason,
        Time = Journal.Now(),
    };

    private static string? TryHash(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(s));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Decode workers wait while it is closed (the model is running).</summary>
    private sealed class DecodeGate
    {
        private readonly ManualResetEventSlim open = new(true);

        public void Wait() => open.Wait();

        public void Close() => open.Reset();

        public void Open() => open.Set();
    }

    /// <summary>The files to decode as a dataset for the loader; records what each decode found, and each failure.</summary>
    private sealed class LabelingDataset(IReadOnlyList<ScannedFile> files, bool hash, DecodeGate? gate) : IImageDataset
    {
        private static readonly int[] Zero = [0];

        public ConcurrentDictionary<int, DecodedImage> Decoded { get; } = new();

        public ConcurrentDictionary<int, ImageDecodeException> Failures { get; } = new();

        public ConcurrentDictionary<int, string> Hashes { get; } = new();

        public int Count => files.Count;

        public ClassMap Classes { get; } = new(["unlabelled"]);

        public bool IsMultiLabel => false;

        public string NameOf(int index) => files[index].Path;

        public string? GroupOf(int index) => null;

        public IReadOnlyList<int> LabelsOf(int index) => Zero;

        public ImageBuffer Load(int index, DecodeOptions options)
        {
            gate?.Wait();
            var path = files[index].Path;
            try
            {
                byte[] data;
                try
                {
                    data = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ImageDecodeException(path, $"cannot read the file ({e.Message})", DecodeFailure.Unreadable, e);
                }
                if (hash)
                    Hashes[index] = Convert.ToHexStringLower(SHA256.HashData(data));
                var decoded = ImageDecoder.DecodeDetailed(data, path, options);
                // Keep what the journal needs, not the pixels (the loader holds those until the batch is collated).
                Decoded[index] = decoded with { Image = Placeholder };
                return decoded.Image;
            }
            catch (ImageDecodeException e)
            {
                Failures[index] = e;
                throw;
            }
        }

        private static readonly ImageBuffer Placeholder = new(1, 1, 1);
    }
}
