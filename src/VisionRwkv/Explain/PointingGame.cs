using System.Globalization;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>One pointing-game item: an image, the label to explain and its evidence box, half-open, in original pixels.</summary>
public sealed record EvidenceBox(string Image, int Label, int X0, int Y0, int X1, int Y1)
{
    public bool Contains(int y, int x) => x >= X0 && x < X1 && y >= Y0 && y < Y1;
}

/// <summary>Hits of one method: the share of items whose map peaks inside the evidence box.</summary>
public sealed record PointingScore(SaliencyMethod Method, int Hits, int Total)
{
    public double HitRate => Total == 0 ? double.NaN : (double)Hits / Total;
}

/// <summary>Scores per method and the items that could not be used.</summary>
public sealed record PointingGameResult(IReadOnlyList<PointingScore> Scores, IReadOnlyList<string> Skipped);

/// <summary>
/// The pointing game (Zhang et al. 2016): a map hits when its peak (the first maximum in row-major order) falls
/// inside the evidence box.
/// </summary>
public static class PointingGame
{
    /// <summary>True when the peak of <paramref name="map"/> (at model-input resolution) is inside the box given in the same pixels.</summary>
    public static bool Hit(float[,] map, int x0, int y0, int x1, int y1)
    {
        var (y, x) = Saliency.Peak(map);
        return x >= x0 && x < x1 && y >= y0 && y < y1;
    }

    /// <summary>
    /// Reads BOXES.csv: header <c>image,label,x0,y0,x1,y1</c>; image paths relative to the CSV's folder; label a class
    /// name or index. A bad row stops with an error naming the file and line.
    /// </summary>
    public static IReadOnlyList<EvidenceBox> ReadCsv(string path, ClassMap classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        var (header, rows) = CsvFiles.Read(path);
        string[] expected = ["image", "label", "x0", "y0", "x1", "y1"];
        var col = expected.ToDictionary(n => n, n => Array.FindIndex(header, h => h.Trim().Equals(n, StringComparison.OrdinalIgnoreCase)));
        var missing = col.Where(e => e.Value < 0).Select(e => e.Key).ToList();
        if (missing.Count > 0) throw new FormatException($"{path}: header lacks column(s) {string.Join(", ", missing)} (expected {string.Join(",", expected)})");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var boxes = new List<EvidenceBox>();
        foreach (var (line, cells) in rows)
        {
            string Cell(string name) => col[name] < cells.Length ? cells[col[name]].Trim() : "";
            int Int(string name) => int.TryParse(Cell(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                ? v : throw new FormatException($"{path}:{line}: {name} '{Cell(name)}' is not an integer");
            string label = Cell("label");
            int id = classes.TryIndexOf(label, out var named) ? named
                : int.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) && index >= 0 && index < classes.Count ? index
                : throw new FormatException($"{path}:{line}: label '{label}' is neither a class of the model nor an index below {classes.Count}");
            var box = new EvidenceBox(Path.Combine(folder, Cell("image")), id, Int("x0"), Int("y0"), Int("x1"), Int("y1"));
            if (box.X1 <= box.X0 || box.Y1 <= box.Y0) throw new FormatException($"{path}:{line}: empty box ({box.X0},{box.Y0})-({box.X1},{box.Y1})");
            boxes.Add(box);
        }
        return boxes;
    }

    /// <summary>
    /// Plays the game on every item for every method: each image is decoded at full size and preprocessed with the
    /// model's eval transform, the map's peak is mapped back to the original pixels and tested against the box.
    /// Unreadable images are skipped and listed; a method a model does not support fails at once.
    /// </summary>
    public static PointingGameResult Run(IImageClassifier model, IReadOnlyList<EvidenceBox> items,
        IReadOnlyList<SaliencyMethod> methods, SaliencyOptions? options = null, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(methods);
        var hits = new int[methods.Count];
        int total = 0;
        var skipped = new List<string>();
        foreach (var item in items)
        {
            PreparedImage prepared;
            try
            {
                prepared = PreparedImage.Load(item.Image, model.Data);
            }
            catch (Exception e) when (e is ImageDecodeException or IOException or UnauthorizedAccessException)
            {
                skipped.Add($"{item.Image}: {e.Message}");
                continue;
            }
            total++;
            using var scope = NewDisposeScope();
            var input = prepared.Input;
            var x = tensor(input.Data, [input.Channels, input.Height, input.Width]);
            for (int m = 0; m < methods.Count; m++)
            {
                var map = Saliency.Map(model, x, item.Label, methods[m], options);
                var (py, px) = Saliency.Peak(map);
                if (prepared.ToOriginal(py, px) is (int oy, int ox) && item.Contains(oy, ox)) hits[m]++;
            }
            progress?.Invoke(item.Image);
        }
        return new PointingGameResult([.. methods.Select((m, i) => new PointingScore(m, hits[i], total))], skipped);
    }
}
