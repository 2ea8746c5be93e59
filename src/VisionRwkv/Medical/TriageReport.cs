using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;
using VisionRwkv.Common;

namespace VisionRwkv.Medical;

/// <summary>One picture of the report's gallery: a caption and the PNG bytes (an image, later an image with its saliency map).</summary>
public sealed record GalleryItem(string Title, byte[] Png);

/// <summary>A test case worth showing for one label: the image, why it was picked, its calibrated score and its target.</summary>
public sealed record GalleryCase(int Image, int Label, string Kind, float Score, bool Target);

/// <summary>Where <see cref="TriageReport.Write"/> put its files.</summary>
public sealed record TriageReportFiles(string Predictions, string Json, string Html);

/// <summary>
/// The evaluation report of a multi-label (X-ray triage) model: <c>predictions.csv</c> (every test image's id, patient,
/// per label target, calibrated and raw score), <c>report.json</c> (every number) and a self-contained
/// <c>report.html</c> (PNG plots embedded as data: URIs, rendered with ScottPlot): per label ROC and PR curves with the
/// bootstrap CI in the title, reliability diagrams before and after temperature scaling, the operating-point table with
/// the confusion counts at each chosen threshold, and a gallery fed by the caller.
/// </summary>
public static class TriageReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Per label the most confident true positive, false positive (highest score among negatives) and false negative
    /// (lowest score among positives), judged at <paramref name="thresholds"/> (per label, on the calibrated score;
    /// NaN: 0.5). Up to <paramref name="perKind"/> of each; masked pairs are never picked.
    /// </summary>
    public static IReadOnlyList<GalleryCase> PickCases(EvaluationSet test, IReadOnlyList<double> temperatures, IReadOnlyList<double> thresholds, int perKind = 1)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(temperatures);
        ArgumentNullException.ThrowIfNull(thresholds);
        int k = test.LabelCount;
        var cases = new List<GalleryCase>();
        for (int l = 0; l < k; l++)
        {
            double threshold = double.IsNaN(thresholds[l]) ? 0.5 : thresholds[l];
            var scored = test.EvaluatedImages(l)
                .Select(i => (Image: i, Score: (float)TemperatureScaling.Sigmoid(test.Logits[i * k + l] / temperatures[l]), Target: test.Targets[i * k + l] == 1))
                .ToList();
            // Ties are broken by image order so the pick is deterministic.
            cases.AddRange(scored.Where(c => c.Target && c.Score >= threshold).OrderByDescending(c => c.Score).ThenBy(c => c.Image).Take(perKind)
                .Select(c => new GalleryCase(c.Image, l, "most confident true positive", c.Score, true)));
            cases.AddRange(scored.Where(c => !c.Target && c.Score >= threshold).OrderByDescending(c => c.Score).ThenBy(c => c.Image).Take(perKind)
                .Select(c => new GalleryCase(c.Image, l, "most confident false positive", c.Score, false)));
            cases.AddRange(scored.Where(c => c.Target && c.Score < threshold).OrderBy(c => c.Score).ThenBy(c => c.Image).Take(perKind)
                .Select(c => new GalleryCase(c.Image, l, "most confident false negative", c.Score, true)));
        }
        return cases;
    }

    /// <summary>The Youden operating threshold of each label (NaN where none could be chosen): the gallery's decision rule.</summary>
    public static double[] YoudenThresholds(MedicalEvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return [.. report.Labels.Select(l => l.OperatingPoints.FirstOrDefault(p => p.Rule == "youden")?.Threshold ?? double.NaN)];
    }

    /// <summary>Writes predictions.csv, report.json and report.html into <paramref name="dir"/> (created), each atomically.</summary>
    public static TriageReportFiles Write(string dir, string title, MedicalEvaluationReport report, EvaluationSet test, IReadOnlyList<GalleryItem> gallery)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(gallery);
        Directory.CreateDirectory(dir);
        var files = new TriageReportFiles(Path.Combine(dir, "predictions.csv"), Path.Combine(dir, "report.json"), Path.Combine(dir, "report.html"));
        PredictionsCsv.Write(files.Predictions, test, report.Temperatures);
        AtomicFile.WriteText(files.Json, Json(title, report));
        AtomicFile.WriteText(files.Html, Html(title, report, gallery));
        return files;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>report.json: the same numbers as the HTML (NaN where a metric is undefined, e.g. a label without positives).</summary>
    public static string Json(string title, MedicalEvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var o = report.Options;
        return JsonSerializer.Serialize(new
        {
            Title = title,
            report.TestImages,
            report.TestPatients,
            MacroAuroc = report.MacroAuroc,
            MacroAveragePrecision = report.MacroAveragePrecision,
            Bootstrap = new { Resamples = o.BootstrapResamples, o.Level, o.Seed, ResampledBy = "patient" },
            o.CalibrationBins,
            OperatingRules = o.OperatingRules.Select(r => r.ToString()).ToArray(),
            report.Labels,
        }, JsonOptions) + "\n";
    }

    private static string F(double v, string format = "F3") => double.IsNaN(v) ? "n/a" : v.ToString(format, Inv);

    private static string Ci(BootstrapInterval ci) => double.IsNaN(ci.Point) ? "n/a" : $"{F(ci.Point)} [{F(ci.Lower)}, {F(ci.Upper)}]";

    private static string H(string s) => WebUtility.HtmlEncode(s);

    private static string Img(byte[] png, string alt) => $"<img alt=\"{H(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">";

    /// <summary>report.html: one self-contained page (no external file, script or font).</summary>
    public static string Html(string title, MedicalEvaluationReport report, IReadOnlyList<GalleryItem> gallery)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(gallery);
        var o = report.Options;
        var b = new StringBuilder();
        b.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(H(title)).Append("</title>\n<style>")
            .Append("body{font-family:sans-serif;margin:1.5em;max-width:1400px}table{border-collapse:collapse;margin:.5em 0 1.5em}")
            .Append("td,th{border:1px solid #bbb;padding:.2em .5em;text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}")
            .Append(".plots img{width:320px;margin:2px}.gallery figure{display:inline-block;margin:4px;width:200px;vertical-align:top}")
            .Append(".gallery img{width:200px;image-rendering:pixelated}figcaption{font-size:.8em}</style></head><body>\n");
        b.Append("<h1>").Append(H(title)).Append("</h1>\n");
        b.Append(Inv, $"<p>Test split: {report.TestImages} images of {report.TestPatients} patients. 95% intervals: {o.BootstrapResamples} bootstrap resamples ")
            .Append(Inv, $"of patients (percentile, level {F(o.Level, "0.##")}, seed {o.Seed}). Thresholds and temperatures were fitted on the validation split.</p>\n");
        b.Append("<p><b>Macro AUROC</b> ").Append(Ci(report.MacroAuroc)).Append(" &nbsp; <b>Macro AP</b> ").Append(Ci(report.MacroAveragePrecision)).Append("</p>\n");

        b.Append("<h2>Discrimination and calibration per label</h2>\n<table><tr><th>label</th><th>positives</th><th>negatives</th><th>AUROC [95% CI]</th>")
            .Append("<th>AP [95% CI]</th><th>temperature</th><th>ECE width before</th><th>ECE width after</th><th>ECE mass before</th><th>ECE mass after</th></tr>\n");
        foreach (var l in report.Labels)
        {
            var c = l.Calibration;
            b.Append(Inv, $"<tr><td>{H(l.Label)}</td><td>{l.Positives}</td><td>{l.Negatives}</td><td>{Ci(l.Auroc)}</td><td>{Ci(l.AveragePrecision)}</td>")
                .Append(Inv, $"<td>{F(c.Temperature)}</td><td>{F(c.EqualWidthBefore.Ece, "F4")}</td><td>{F(c.EqualWidthAfter.Ece, "F4")}</td>")
                .Append(Inv, $"<td>{F(c.EqualMassBefore.Ece, "F4")}</td><td>{F(c.EqualMassAfter.Ece, "F4")}</td></tr>\n");
        }
        b.Append("</table>\n");

        b.Append("<h2>Operating points (chosen on validation, applied to test)</h2>\n<table><tr><th>label</th><th>rule</th><th>threshold</th>")
            .Append("<th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>F1</th><th>TP</th><th>FP</th><th>TN</th><th>FN</th><th>validation sensitivity</th></tr>\n");
        foreach (var l in report.Labels)
        {
            foreach (var p in l.OperatingPoints)
            {
                var t = p.Test;
                b.Append(Inv, $"<tr><td>{H(l.Label)}</td><td>{H(p.Rule)}</td><td>{F(p.Threshold, "F4")}</td><td>{F(t.Sensitivity)}</td><td>{F(t.Specificity)}</td>")
                    .Append(Inv, $"<td>{F(t.Ppv)}</td><td>{F(t.Npv)}</td><td>{F(t.F1)}</td><td>{t.TruePositives}</td><td>{t.FalsePositives}</td><td>{t.TrueNegatives}</td>")
                    .Append(Inv, $"<td>{t.FalseNegatives}</td><td>{F(p.Validation.Sensitivity)}</td></tr>\n");
            }
        }
        b.Append("</table>\n");

        b.Append("<h2>Curves and reliability diagrams</h2>\n");
        foreach (var l in report.Labels)
        {
            b.Append("<h3>").Append(H(l.Label)).Append("</h3>\n<div class=\"plots\">");
            b.Append(Img(RocPlot(l), $"ROC {l.Label}")).Append(Img(PrPlot(l), $"PR {l.Label}"))
                .Append(Img(ReliabilityPlot(l.Calibration.EqualWidthBefore, $"{l.Label}: before scaling"), $"reliability before {l.Label}"))
                .Append(Img(ReliabilityPlot(l.Calibration.EqualWidthAfter, $"{l.Label}: after scaling (T={F(l.Calibration.Temperature, "F2")})"), $"reliability after {l.Label}"));
            b.Append("</div>\n");
        }

        b.Append("<h2>Gallery: most confident correct and wrong test cases</h2>\n");
        if (gallery.Count == 0) b.Append("<p>No cases.</p>\n");
        b.Append("<div class=\"gallery\">");
        foreach (var g in gallery)
            b.Append("<figure>").Append(Img(g.Png, g.Title)).Append("<figcaption>").Append(H(g.Title)).Append("</figcaption></figure>");
        b.Append("</div>\n</body></html>\n");
        return b.ToString();
    }

    private const int PlotWidth = 480, PlotHeight = 400;

    private static byte[] Render(Plot plot) => plot.GetImageBytes(PlotWidth, PlotHeight, ImageFormat.Png);

    /// <summary>The ROC curve with the chance diagonal; the title carries the AUROC and its interval.</summary>
    public static byte[] RocPlot(LabelEvaluation label)
    {
        ArgumentNullException.ThrowIfNull(label);
        var plot = new Plot();
        var pts = label.Roc.Where(p => !double.IsNaN(p.FalsePositiveRate) && !double.IsNaN(p.TruePositiveRate)).ToArray();
        var diag = plot.Add.Line(0, 0, 1, 1);
        diag.LinePattern = LinePattern.Dashed;
        diag.Color = Colors.Gray;
        if (pts.Length > 0)
        {
            var s = plot.Add.ScatterLine(pts.Select(p => p.FalsePositiveRate).ToArray(), pts.Select(p => p.TruePositiveRate).ToArray());
            s.LegendText = $"AUROC {Ci(label.Auroc)}";
            plot.ShowLegend(Alignment.LowerRight);
        }
        plot.Title($"ROC: {label.Label} (n+={label.Positives})");
        plot.XLabel("1 - specificity");
        plot.YLabel("sensitivity");
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        return Render(plot);
    }

    /// <summary>The precision-recall curve (from the ROC points and the class counts), with the prevalence as the chance line.</summary>
    public static byte[] PrPlot(LabelEvaluation label)
    {
        ArgumentNullException.ThrowIfNull(label);
        var plot = new Plot();
        double pos = label.Positives, neg = label.Negatives;
        var recall = new List<double>();
        var precision = new List<double>();
        foreach (var p in label.Roc)
        {
            double tp = p.TruePositiveRate * pos, fp = p.FalsePositiveRate * neg;
            if (tp + fp <= 0 || double.IsNaN(tp) || double.IsNaN(fp)) continue;
            recall.Add(p.TruePositiveRate);
            precision.Add(tp / (tp + fp));
        }
        if (pos + neg > 0)
        {
            var chance = plot.Add.HorizontalLine(pos / (pos + neg));
            chance.LinePattern = LinePattern.Dashed;
            chance.Color = Colors.Gray;
        }
        if (recall.Count > 0)
        {
            var s = plot.Add.ScatterLine(recall.ToArray(), precision.ToArray());
            s.ConnectStyle = ConnectStyle.StepVertical;
            s.LegendText = $"AP {Ci(label.AveragePrecision)}";
            plot.ShowLegend(Alignment.UpperRight);
        }
        plot.Title($"Precision-recall: {label.Label}");
        plot.XLabel("recall (sensitivity)");
        plot.YLabel("precision (PPV)");
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        return Render(plot);
    }

    /// <summary>A reliability diagram: observed fraction of positives against mean predicted probability per bin, with the diagonal.</summary>
    public static byte[] ReliabilityPlot(ReliabilityDiagram diagram, string title)
    {
        ArgumentNullException.ThrowIfNull(diagram);
        var plot = new Plot();
        var diag = plot.Add.Line(0, 0, 1, 1);
        diag.LinePattern = LinePattern.Dashed;
        diag.Color = Colors.Gray;
        var bins = diagram.Bins.Where(b => b.Count > 0).ToArray();
        if (bins.Length > 0)
        {
            var s = plot.Add.ScatterLine(bins.Select(b => b.MeanConfidence).ToArray(), bins.Select(b => b.Accuracy).ToArray());
            s.MarkerSize = 6;
            s.LegendText = $"ECE {F(diagram.Ece, "F4")} ({diagram.Scheme}, {diagram.Bins.Length} bins)";
            plot.ShowLegend(Alignment.UpperLeft);
        }
        plot.Title(title);
        plot.XLabel("mean predicted probability");
        plot.YLabel("observed fraction positive");
        plot.Axes.SetLimits(0, 1, 0, 1);
        return Render(plot);
    }
}
