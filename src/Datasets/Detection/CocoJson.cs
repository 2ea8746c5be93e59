using System.Text.Json;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Detection;

/// <summary>
/// Reads and writes COCO detection JSON: the data set form (<c>images</c>, <c>categories</c>, <c>annotations</c> with
/// <c>bbox</c>, <c>area</c>, <c>iscrowd</c>) and the results form (a list of <c>image_id</c>, <c>category_id</c>,
/// <c>bbox</c>, <c>score</c>). Every problem is an <see cref="InvalidDataException"/> whose one-line message names the
/// file and the entry (with line and byte position for JSON syntax errors). Writes are atomic, so an interrupted write
/// never leaves half a file where a good one was.
/// </summary>
public static class CocoJson
{
    public static CocoDataset Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var doc = Parse(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad(path, "the top level must be an object with 'images', 'categories' and 'annotations'");

        var images = new List<CocoImage>();
        var imageIds = new HashSet<long>();
        foreach (var (e, i) in Items(root, "images", path))
        {
            var where = $"images[{i}]";
            var id = Long(e, "id", path, where);
            if (!imageIds.Add(id))
                throw Bad(path, $"{where}: duplicate image id {id}");
            images.Add(new CocoImage(id, OptString(e, "file_name", path, where) ?? "", OptInt(e, "width", path, where), OptInt(e, "height", path, where)));
        }

        var categories = new List<CocoCategory>();
        var categoryIds = new HashSet<long>();
        foreach (var (e, i) in Items(root, "categories", path))
        {
            var where = $"categories[{i}]";
            var id = Long(e, "id", path, where);
            if (!categoryIds.Add(id))
                throw Bad(path, $"{where}: duplicate category id {id}");
            categories.Add(new CocoCategory(id, OptString(e, "name", path, where) ?? "", OptString(e, "supercategory", path, where)));
        }

        var annotations = new List<CocoAnnotation>();
        var annotationIds = new HashSet<long>();
        foreach (var (e, i) in Items(root, "annotations", path))
        {
            var where = $"annotations[{i}]";
            var id = Long(e, "id", path, where);
            if (!annotationIds.Add(id))
                throw Bad(path, $"{where}: duplicate annotation id {id}");
            var imageId = Long(e, "image_id", path, where);
            if (!imageIds.Contains(imageId))
                throw Bad(path, $"{where} (id {id}): image_id {imageId} is not in 'images'");
            var categoryId = Long(e, "category_id", path, where);
            if (!categoryIds.Contains(categoryId))
                throw Bad(path, $"{where} (id {id}): category_id {categoryId} is not in 'categories'");
            var box = Bbox(e, path, where);
            var area = e.TryGetProperty("area", out var a) && a.ValueKind != JsonValueKind.Null ? Number(a, path, where + ".area") : box.W * box.H;
            if (area < 0)
                throw Bad(path, $"{where}: negative area {area}");
            var crowd = e.TryGetProperty("iscrowd", out var c) && Flag(c, path, where + ".iscrowd");
            annotations.Add(new CocoAnnotation(id, imageId, categoryId, box, area, crowd));
        }
        return new CocoDataset(images, categories, annotations);
    }

    /// <summary>Reads a results file (a JSON list of detections).</summary>
    public static IReadOnlyList<CocoResult> ReadResults(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var doc = Parse(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw Bad(path, "a results file must be a JSON list of {image_id, category_id, bbox, score}");
        var results = new List<CocoResult>(doc.RootElement.GetArrayLength());
        var i = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var where = $"[{i++}]";
            if (e.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"{where} is not an object");
            if (!e.TryGetProperty("score", out var s))
                throw Bad(path, $"{where} has no 'score'");
            results.Add(new CocoResult(Long(e, "image_id", path, where), Long(e, "category_id", path, where), Bbox(e, path, where), Number(s, path, where + ".score")));
        }
        return results;
    }

    public static void Write(string path, CocoDataset dataset, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(dataset);
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented });
            w.WriteStartObject();
            w.WriteStartArray("images");
            foreach (var img in dataset.Images)
            {
                w.WriteStartObject();
                w.WriteNumber("id", img.Id);
                w.WriteString("file_name", img.FileName);
                w.WriteNumber("width", img.Width);
                w.WriteNumber("height", img.Height);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("categories");
            foreach (var c in dataset.Categories)
            {
                w.WriteStartObject();
                w.WriteNumber("id", c.Id);
                w.WriteString("name", c.Name);
                if (c.Supercategory is not null)
                    w.WriteString("supercategory", c.Supercategory);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("annotations");
            foreach (var a in dataset.Annotations)
            {
                w.WriteStartObject();
                w.WriteNumber("id", a.Id);
                w.WriteNumber("image_id", a.ImageId);
                w.WriteNumber("category_id", a.CategoryId);
                WriteBox(w, a.Bbox);
                w.WriteNumber("area", a.Area);
                w.WriteNumber("iscrowd", a.IsCrowd ? 1 : 0);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>Writes a results file. Doubles are written in their shortest round-trip form, so reading gives the same bits.</summary>
    public static void WriteResults(string path, IEnumerable<CocoResult> results)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(results);
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream);
            w.WriteStartArray();
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteNumber("image_id", r.ImageId);
                w.WriteNumber("category_id", r.CategoryId);
                WriteBox(w, r.Bbox);
                w.WriteNumber("score", r.Score);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static void WriteBox(Utf8JsonWriter w, CocoBox b)
    {
        w.WriteStartArray("bbox");
        w.WriteNumberValue(b.X);
        w.WriteNumberValue(b.Y);
        w.WriteNumberValue(b.W);
        w.WriteNumberValue(b.H);
        w.WriteEndArray();
    }

    private static JsonDocument Parse(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"COCO JSON file '{path}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0)
            throw Bad(path, "the file is empty");
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw Bad(path, $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1} of the line: {FirstLine(e.Message)}");
        }
    }

    private static string FirstLine(string s)
    {
        var cut = s.IndexOfAny(['\r', '\n']);
        return cut < 0 ? s : s[..cut];
    }

    private static IEnumerable<(JsonElement Element, int Index)> Items(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var arr))
        {
            // A results-only or image-only file may lack 'annotations'/'categories'; 'images' must be there.
            if (name == "images")
                throw Bad(path, "has no 'images' list (is it a results file? read those with ReadResults)");
            yield break;
        }
        if (arr.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"'{name}' must be a list");
        var i = 0;
        foreach (var e in arr.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"{name}[{i}] is not an object");
            yield return (e, i++);
        }
    }

    private static CocoBox Bbox(JsonElement e, string path, string where)
    {
        if (!e.TryGetProperty("bbox", out var b))
            throw Bad(path, $"{where} has no 'bbox'");
        if (b.ValueKind != JsonValueKind.Array || b.GetArrayLength() != 4)
            throw Bad(path, $"{where}.bbox must be a list of 4 numbers [x, y, w, h]");
        var v = new double[4];
        var k = 0;
        foreach (var x in b.EnumerateArray())
            v[k++] = Number(x, path, where + ".bbox");
        if (v[2] < 0 || v[3] < 0)
            throw Bad(path, $"{where}.bbox has a negative width or height ([{v[0]}, {v[1]}, {v[2]}, {v[3]}])");
        return new CocoBox(v[0], v[1], v[2], v[3]);
    }

    private static long Long(JsonElement e, string name, string path, string where)
    {
        if (!e.TryGetProperty(name, out var v))
            throw Bad(path, $"{where} has no '{name}'");
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l))
            return l;
        // Some writers emit integral ids as 1.0.
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15)
            return (long)d;
        throw Bad(path, $"{where}.{name} must be an integer, got {v.GetRawText()}");
    }

    private static int OptInt(JsonElement e, string name, string path, string where)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return 0;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i >= 0)
            return i;
        throw Bad(path, $"{where}.{name} must be a non-negative integer, got {v.GetRawText()}");
    }

    private static string? OptString(JsonElement e, string name, string path, string where)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        if (v.ValueKind != JsonValueKind.String)
            throw Bad(path, $"{where}.{name} must be a string, got {v.GetRawText()}");
        return v.GetString();
    }

    private static double Number(JsonElement v, string path, string where)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d) || !double.IsFinite(d))
            throw Bad(path, $"{where} must be a finite number, got {v.GetRawText()}");
        return d;
    }

    private static bool Flag(JsonElement v, string path, string where) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False or JsonValueKind.Null => false,
        JsonValueKind.Number when v.TryGetInt32(out var i) && i is 0 or 1 => i == 1,
        _ => throw Bad(path, $"{where} must be 0 or 1, got {v.GetRawText()}"),
    };

    private static InvalidDataException Bad(string path, string problem) => new($"'{path}': {problem}.");
}
