using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;
using CsvHelper.Configuration.Attributes;
using Parquet.Serialization;
using VisionRwkv.Common;

namespace VisionRwkv.Labeling;

/// <summary>One journal row as exported: the journal's columns, the labels as JSON, and the best label on its own.</summary>
public sealed class ExportRow
{
    [Name("path"), JsonPropertyName("path")] public string Path { get; set; } = "";
    [Name("size"), JsonPropertyName("size")] public long Size { get; set; }
    [Name("mtime_ms"), JsonPropertyName("mtime_ms")] public long MtimeMs { get; set; }
    [Name("content_hash"), JsonPropertyName("content_hash")] public string? ContentHash { get; set; }
    [Name("status"), JsonPropertyName("status")] public string Status { get; set; } = "";
    [Name("reason"), JsonPropertyName("reason")] public string? Reason { get; set; }
    [Name("format"), JsonPropertyName("format")] public string? Format { get; set; }
    [Name("width"), JsonPropertyName("width")] public int? Width { get; set; }
    [Name("height"), JsonPropertyName("height")] public int? Height { get; set; }
    [Name("orientation"), JsonPropertyName("orientation")] public int? Orientation { get; set; }
    [Name("error"), JsonPropertyName("error")] public string? Error { get; set; }
    [Name("warning"), JsonPropertyName("warning")] public string? Warning { get; set; }
    [Name("model_id"), JsonPropertyName("model_id")] public string? ModelId { get; set; }
    /// <summary>The top-k labels as a JSON array of {"label", "score"}, best first.</summary>
    [Name("labels"), JsonPropertyName("labels")] public string Labels { get; set; } = "[]";
    [Name("top_label"), JsonPropertyName("top_label")] public string? TopLabel { get; set; }
    [Name("top_score"), JsonPropertyName("top_score")] public float? TopScore { get; set; }
    [Name("time"), JsonPropertyName("time")] public string Time { get; set; } = "";

    public static ExportRow From(JournalRow r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new ExportRow
        {
            Path = r.Path, Size = r.Size, MtimeMs = r.MtimeMs, ContentHash = r.ContentHash, Status = r.Status, Reason = r.Reason,
            Format = r.Format, Width = r.Width, Height = r.Height, Orientation = r.Orientation, Error = r.Error, Warning = r.Warning,
            ModelId = r.ModelId, Labels = JsonSerializer.Serialize(r.Labels as LabelScore[] ?? [.. r.Labels], LabelingJson.Default.LabelScoreArray), TopLabel = r.Labels.Count > 0 ? r.Labels[0].Label : null,
            TopScore = r.Labels.Count > 0 ? r.Labels[0].Score : null, Time = r.Time,
        };
    }
}

/// <summary>Writes a journal's rows (ordered by path) as CSV (CsvHelper), JSONL or Parquet (Parquet.Net), atomically.</summary>
public static class JournalExport
{
    /// <summary>Formats by name: csv, jsonl, parquet.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["csv", "jsonl", "parquet"];

    /// <summary>Writes <paramref name="rows"/> to <paramref name="path"/> in <paramref name="format"/>.</summary>
    public static void Write(IEnumerable<JournalRow> rows, string path, string format)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var data = rows.Select(ExportRow.From).ToList();
        switch (format.ToLowerInvariant())
        {
            case "csv":
                AtomicFile.Write(path, s =>
                {
                    using var w = new StreamWriter(s, new UTF8Encoding(false), leaveOpen: true);
                    using var csv = new CsvWriter(w, CultureInfo.InvariantCulture);
                    csv.WriteRecords(data);
                });
                break;
            case "jsonl":
                AtomicFile.Write(path, s =>
                {
                    using var w = new StreamWriter(s, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
                    foreach (var r in data)
                        w.WriteLine(JsonSerializer.Serialize(r, LabelingJson.Default.ExportRow));
                });
                break;
            case "parquet":
                AtomicFile.Write(path, s => ParquetSerializer.SerializeAsync(data, s).GetAwaiter().GetResult());
                break;
            default:
                throw new ArgumentException($"unknown export format '{format}' (csv, jsonl, parquet)", nameof(format));
        }
    }

    /// <summary>Every format given, next to the journal unless <paramref name="directory"/> says otherwise: labels.csv, labels.jsonl, ...</summary>
    public static IReadOnlyList<string> WriteAll(Journal journal, IEnumerable<string> formats, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(formats);
        var rows = journal.ReadAll();
        var dir = directory ?? Path.GetDirectoryName(journal.Path)!;
        var stem = Path.GetFileNameWithoutExtension(journal.Path);
        var written = new List<string>();
        foreach (var f in formats)
        {
            var path = Path.Combine(dir, $"{stem}.{f.ToLowerInvariant()}");
            Write(rows, path, f);
            written.Add(path);
        }
        return written;
    }
}
