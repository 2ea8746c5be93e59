using System.Globalization;
using System.Text;
using System.Text.Json;

namespace VisionRwkv.Detection.Evaluation;

/// <summary>
/// The 12 standard COCO box numbers in pycocotools' order (<c>COCOeval.stats</c>), plus AP per category id. A value of
/// -1 means "nothing to average" (for example APs when the ground truth has no small objects), as in pycocotools.
/// </summary>
public sealed class CocoMetrics
{
    /// <summary>The names of <see cref="Stats"/>, in pycocotools' order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"];

    /// <summary>What each number is, as pycocotools' summarize() prints it.</summary>
    public static IReadOnlyList<string> Descriptions { get; } =
    [
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
        "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    ];

    public CocoMetrics(IReadOnlyList<double> stats, IReadOnlyDictionary<long, double> perCategoryAP)
    {
        ArgumentNullException.ThrowIfNull(stats);
        if (stats.Count != 12)
            throw new ArgumentException($"COCO metrics have 12 numbers, got {stats.Count}.", nameof(stats));
        Stats = stats;
        PerCategoryAP = perCategoryAP;
    }

    /// <summary>AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.</summary>
    public IReadOnlyList<double> Stats { get; }

    /// <summary>AP@[.50:.95] (area all, 100 detections) per category id; -1 for a category without ground truth.</summary>
    public IReadOnlyDictionary<long, double> PerCategoryAP { get; }

    public double AP => Stats[0];

    public double AP50 => Stats[1];

    public double AP75 => Stats[2];

    public double APSmall => Stats[3];

    public double APMedium => Stats[4];

    public double APLarge => Stats[5];

    public double AR1 => Stats[6];

    public double AR10 => Stats[7];

    public double AR100 => Stats[8];

    public double ARSmall => Stats[9];

    public double ARMedium => Stats[10];

    public double ARLarge => Stats[11];

    /// <summary>The value of a name from <see cref="Names"/>.</summary>
    public double this[string name]
    {
        get
        {
            for (var i = 0; i < Names.Count; i++)
            {
                if (Names[i] == name)
                    return Stats[i];
            }
            throw new KeyNotFoundException($"'{name}' is not a COCO metric; the names are {string.Join(", ", Names)}.");
        }
    }

    /// <summary>The 12 numbers as a JSON object in pycocotools' order ({"AP": …, …, "ARl": …}), full precision.</summary>
    public string ToJson(bool indented = true)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            for (var i = 0; i < Names.Count; i++)
                w.WriteNumber(Names[i], Stats[i]);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>pycocotools' summary table: one line per number, three decimals.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Names.Count; i++)
            sb.Append(' ').Append(Descriptions[i]).Append(" = ").AppendLine(Stats[i].ToString("0.000", CultureInfo.InvariantCulture));
        return sb.ToString();
    }
}
