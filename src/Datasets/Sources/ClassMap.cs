using System.Text.Json;

namespace VisionRwkv.Datasets.Sources;

/// <summary>
/// Class names in a fixed order (index = label id). Built sorted (ordinal) so the same folder gives the same ids on every
/// machine; saved as JSON next to each run so predictions can be mapped back to names.
/// </summary>
public sealed class ClassMap
{
    private readonly string[] names;
    private readonly Dictionary<string, int> index;

    public ClassMap(IEnumerable<string> namesInOrder)
    {
        ArgumentNullException.ThrowIfNull(namesInOrder);
        names = namesInOrder.ToArray();
        index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            if (!index.TryAdd(names[i], i))
                throw new ArgumentException($"Duplicate class name '{names[i]}'.");
        }
    }

    /// <summary>Distinct names sorted ordinally.</summary>
    public static ClassMap FromNames(IEnumerable<string> names) =>
        new(names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));

    public int Count => names.Length;

    public IReadOnlyList<string> Names => names;

    public string this[int id] => names[id];

    public int IndexOf(string name) =>
        index.TryGetValue(name, out var i) ? i : throw new KeyNotFoundException($"Unknown class '{name}'.");

    public bool TryIndexOf(string name, out int id) => index.TryGetValue(name, out id);

    /// <summary>Writes <c>{"classes": [...]}</c> atomically (temp file, flush, rename).</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(fs, new Dictionary<string, string[]> { ["classes"] = names }, JsonOptions);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static ClassMap Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var fs = File.OpenRead(path);
            var doc = JsonSerializer.Deserialize<Dictionary<string, string[]>>(fs);
            if (doc is null || !doc.TryGetValue("classes", out var list) || list is null)
                throw new InvalidDataException($"Class map '{path}' has no \"classes\" array.");
            return new ClassMap(list);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Class map '{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
