using System.Text;
using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Sources;

/// <summary>Column (CSV) or property (JSONL) names a manifest uses.</summary>
public sealed record ManifestOptions
{
    public string PathField { get; init; } = "path";

    /// <summary>Single-label field (one class name).</summary>
    public string LabelField { get; init; } = "label";

    /// <summary>Multi-label field: a JSON array, or in CSV names separated by <see cref="LabelSeparator"/>. Its presence makes the manifest multi-label.</summary>
    public string LabelsField { get; init; } = "labels";

    /// <summary>Optional group id field, such as a patient id, used by group splits.</summary>
    public string GroupField { get; init; } = "group";

    public char LabelSeparator { get; init; } = '|';

    /// <summary>Rows without a group (no group column, or an empty cell) take the Patient ID of their DICOM file, so that group splits are patient-level.</summary>
    public bool DicomPatientGroups { get; init; } = true;

    /// <summary>Fixed class order; null derives sorted names from the manifest.</summary>
    public ClassMap? Classes { get; init; }

    public static ManifestOptions Default { get; } = new();
}

/// <summary>
/// Images listed in a CSV (header row required) or JSON Lines manifest: a path (relative paths are taken from the
/// manifest's folder), one label or several, and an optional group id (for DICOM files without one: the Patient ID).
/// Errors name the manifest and the line.
/// </summary>
public sealed class ManifestDataset : IImageDataset
{
    private readonly List<string> paths = [];
    private readonly List<int[]> labels = [];
    private readonly List<string?> groups = [];
    private readonly Lazy<string?>[] patientIds;

    private ManifestDataset(string manifest, List<Row> rows, bool multiLabel, ManifestOptions options)
    {
        Manifest = manifest;
        IsMultiLabel = multiLabel;
        Classes = options.Classes ?? ClassMap.FromNames(rows.SelectMany(r => r.Labels));
        var dir = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
        foreach (var r in rows)
        {
            paths.Add(Path.IsPathRooted(r.Path) ? r.Path : Path.GetFullPath(Path.Combine(dir, r.Path)));
            var ids = new int[r.Labels.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                if (!Classes.TryIndexOf(r.Labels[i], out ids[i]))
                    throw new InvalidDataException($"{manifest}:{r.Line}: label '{r.Labels[i]}' is not in the class map.");
            }
            labels.Add(ids);
            groups.Add(r.Group);
        }
        // Read lazily (header only) and once: only group splits ask.
        var dicomGroups = options.DicomPatientGroups;
        patientIds = paths.Select(p => new Lazy<string?>(() => dicomGroups ? DicomGroups.PatientIdOf(p) : null)).ToArray();
    }

    public string Manifest { get; }

    public int Count => paths.Count;

    public ClassMap Classes { get; }

    public bool IsMultiLabel { get; }

    public string NameOf(int index) => paths[index];

    public string? GroupOf(int index) => groups[index] ?? patientIds[index].Value;

    public IReadOnlyList<int> LabelsOf(int index) => labels[index];

    public ImageBuffer Load(int index, DecodeOptions options) => ImageDecoder.Decode(paths[index], options);

    /// <summary>Reads a CSV or JSONL manifest, chosen by extension (<c>.jsonl</c>/<c>.ndjson</c> are JSON Lines).</summary>
    public static ManifestDataset Open(string path, ManifestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext is ".jsonl" or ".ndjson" ? FromJsonLines(path, options) : FromCsv(path, options);
    }

    public static ManifestDataset FromCsv(string path, ManifestOptions? options = null)
    {
        options ??= ManifestOptions.Default;
        // CsvHelper parses RFC 4180 (quoted fields may hold commas, quotes and newlines).
        var (header, records) = CsvFiles.Read(path);
        int Col(string name) => Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
        int pathCol = Col(options.PathField), labelCol = Col(options.LabelField), labelsCol = Col(options.LabelsField), groupCol = Col(options.GroupField);
        if (pathCol < 0)
            throw new InvalidDataException($"Manifest '{path}' has no '{options.PathField}' column (header: {string.Join(",", header)}).");
        if (labelCol < 0 && labelsCol < 0)
            throw new InvalidDataException($"Manifest '{path}' has neither a '{options.LabelField}' nor a '{options.LabelsField}' column.");
        var multi = labelsCol >= 0;
        var rows = new List<Row>();
        foreach (var (line, cells) in records)
        {
            var p = cells[pathCol].Trim();
            if (p.Length == 0)
                throw new InvalidDataException($"{path}:{line}: empty path.");
            var labelText = cells[multi ? labelsCol : labelCol].Trim();
            var ls = multi
                ? labelText.Split(options.LabelSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
                : [labelText];
            if (!multi && labelText.Length == 0)
                throw new InvalidDataException($"{path}:{line}: empty label.");
            var g = groupCol >= 0 ? cells[groupCol].Trim() : null;
            rows.Add(new Row(p, ls, string.IsNullOrEmpty(g) ? null : g, line));
        }
        return new ManifestDataset(path, rows, multi, options);
    }

    public static ManifestDataset FromJsonLines(string path, ManifestOptions? options = null)
    {
        options ??= ManifestOptions.Default;
        var lines = ReadLines(path);
        var rows = new List<Row>();
        bool? multi = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
                continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(lines[i]);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{i + 1}: invalid JSON at character {(e.BytePositionInLine ?? 0) + 1}.", e);
            }
            using (doc)
            {
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(options.PathField, out var pe) || pe.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{path}:{i + 1}: expected an object with a string '{options.PathField}'.");
                List<string> ls;
                var isMulti = o.TryGetProperty(options.LabelsField, out var lse);
                if (isMulti)
                {
                    ls = lse.ValueKind switch
                    {
                        JsonValueKind.Array => lse.EnumerateArray().Select(e => Scalar(e, path, i + 1)).ToList(),
                        JsonValueKind.String => lse.GetString()!.Split(options.LabelSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
                        _ => throw new InvalidDataException($"{path}:{i + 1}: '{options.LabelsField}' must be an array or a string."),
                    };
                }
                else if (o.TryGetProperty(options.LabelField, out var le))
                {
                    ls = [Scalar(le, path, i + 1)];
                }
                else
                {
                    throw new InvalidDataException($"{path}:{i + 1}: no '{options.LabelField}' or '{options.LabelsField}'.");
                }
                if (multi is { } m && m != isMulti)
                    throw new InvalidDataException($"{path}:{i + 1}: mixes single-label and multi-label rows.");
                multi = isMulti;
                string? g = o.TryGetProperty(options.GroupField, out var ge) && ge.ValueKind != JsonValueKind.Null ? Scalar(ge, path, i + 1) : null;
                rows.Add(new Row(pe.GetString()!, ls, g, i + 1));
            }
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"Manifest '{path}' has no rows.");
        return new ManifestDataset(path, rows, multi ?? false, options);
    }

    private static string Scalar(JsonElement e, string path, int line) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Number => e.GetRawText(),
        _ => throw new InvalidDataException($"{path}:{line}: expected a string or number, found {e.ValueKind}."),
    };

    private static string[] ReadLines(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Manifest '{path}' does not exist.", path);
        return File.ReadAllLines(path, Encoding.UTF8);
    }

    private sealed record Row(string Path, List<string> Labels, string? Group, int Line);
}
