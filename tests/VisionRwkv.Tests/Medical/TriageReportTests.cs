using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using SkiaSharp;
using VisionRwkv.Common;
using VisionRwkv.Medical;
using VisionRwkv.Tests.Training;

namespace VisionRwkv.Tests.Medical;

public sealed partial class TriageReportTests
{
    static EvaluationSet Split(int patients, ulong seed)
    {
        var rng = new SeededRng(seed);
        var ids = new List<string>();
        var pids = new List<string>();
        var logits = new List<float>();
        var targets = new List<float>();
        string[] labels = ["Effusion", "Nodule"];
        for (int p = 0; p < patients; p++)
        {
            for (int s = 0; s < rng.NextInt(1, 3); s++)
            {
                ids.Add($"{p:D4}_{s:D3}.dcm");
                pids.Add(p.ToString(System.Globalization.CultureInfo.InvariantCulture));
                for (int l = 0; l < labels.Length; l++)
                {
                    bool y = rng.Chance(0.2);
                    logits.Add((float)(3 * ((y ? 1.2 : -1.0) + rng.NextGaussian())));
                    targets.Add(l == 1 && ids.Count % 7 == 0 ? float.NaN : y ? 1 : 0);
                }
            }
        }
        return new EvaluationSet(ids, pids, labels, [.. logits], [.. targets]);
    }

    [Fact]
    public void The_gallery_picks_the_most_confident_true_positive_false_positive_and_false_negative_and_never_a_masked_case()
    {
        // Scores sigmoid(z / 2): 0.82, 0.73, 0.38, 0.62, 0.27, masked (would be the top score).
        var set = new EvaluationSet(["a", "b", "c", "d", "e", "f"], ["1", "1", "2", "3", "4", "5"], ["Mass"],
            [3f, 2f, -1f, 1f, -2f, 10f], [1, 0, 1, 0, 0, float.NaN]);
        var cases = TriageReport.PickCases(set, [2.0], [0.5]);
        Assert.Equal(3, cases.Count);
        Assert.Equal((0, "most confident true positive", true), (cases[0].Image, cases[0].Kind, cases[0].Target));
        Assert.Equal((1, "most confident false positive", false), (cases[1].Image, cases[1].Kind, cases[1].Target));
        Assert.Equal((2, "most confident false negative", true), (cases[2].Image, cases[2].Kind, cases[2].Target));
        Assert.Equal(1 / (1 + Math.Exp(-1.5)), cases[0].Score, 5);
        // A threshold above every score: no positives called, so the most confident miss is the lowest-scored positive.
        var high = TriageReport.PickCases(set, [2.0], [0.9]);
        Assert.Equal([2], high.Where(c => c.Kind.EndsWith("negative", StringComparison.Ordinal)).Select(c => c.Image));
        Assert.DoesNotContain(high, c => c.Image == 5);
    }

    static (MedicalEvaluationReport Report, EvaluationSet Test) Evaluated()
    {
        var val = Split(120, 1);
        var test = Split(150, 2);
        return (MedicalEvaluation.Evaluate(val, test, new MedicalEvaluationOptions { BootstrapResamples = 200, Seed = 5 }), test);
    }

    static byte[] TestPng()
    {
        using var bmp = new SKBitmap(new SKImageInfo(16, 12, SKColorType.Gray8, SKAlphaType.Opaque));
        for (int y = 0; y < 12; y++) for (int x = 0; x < 16; x++) bmp.SetPixel(x, y, new SKColor((byte)(x * 16), (byte)(x * 16), (byte)(x * 16)));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public void The_report_files_hold_the_evaluation_numbers_and_every_test_image()
    {
        var (report, test) = Evaluated();
        using var dir = new TempDir();
        var files = TriageReport.Write(dir.Path, "unit <test> & report", report, test, [new GalleryItem("Effusion: a case", TestPng())]);
        using var json = JsonDocument.Parse(File.ReadAllText(files.Json));
        var root = json.RootElement;
        Assert.Equal(report.MacroAuroc.Point, root.GetProperty("macro_auroc").GetProperty("point").GetDouble(), 12);
        Assert.Equal(report.Labels[1].Auroc.Lower, root.GetProperty("labels")[1].GetProperty("auroc").GetProperty("lower").GetDouble(), 12);
        Assert.Equal(test.Count, root.GetProperty("test_images").GetInt32());
        Assert.Equal(["sensitivity>=0.9", "sensitivity>=0.95", "youden"], root.GetProperty("operating_rules").EnumerateArray().Select(e => e.GetString()));
        var op = report.Labels[0].OperatingPoints[2];
        var jop = root.GetProperty("labels")[0].GetProperty("operating_points")[2];
        Assert.Equal(op.Test.TruePositives, jop.GetProperty("test").GetProperty("true_positives").GetInt64());
        Assert.Equal(report.Labels[0].Calibration.EqualMassAfter.Ece,
            root.GetProperty("labels")[0].GetProperty("calibration").GetProperty("equal_mass_after").GetProperty("ece").GetDouble(), 12);

        var (header, rows) = CsvFiles.Read(files.Predictions);
        Assert.Equal(PredictionsCsv.Header(test.Labels), header);
        Assert.Equal(test.Count, rows.Count);

        var html = File.ReadAllText(files.Html);
        Assert.Contains("unit &lt;test&gt; &amp; report", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"src=""(?!data:image/png;base64,)", html); // nothing outside the file
        // 2 labels x (ROC, PR, reliability before, after) + 1 gallery image.
        Assert.Equal(9, ImgTag().Matches(html).Count);
        Assert.Contains(report.Labels[0].Auroc.Point.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), html, StringComparison.Ordinal);
    }

    static string? Chromium() =>
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(n => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, n)))
            .FirstOrDefault(File.Exists);

    [SkippableFact]
    public void The_report_renders_in_headless_chromium_with_every_image_loaded()
    {
        var chromium = Chromium();
        Skip.If(chromium is null, "chromium is not installed (apt-get install chromium; scripts/prereqs.sh installs it)");
        var (report, test) = Evaluated();
        using var dir = new TempDir();
        var files = TriageReport.Write(dir.Path, "render check", report, test, [new GalleryItem("case", TestPng())]);
        // After load, a script lists every image's natural size into the DOM, which --dump-dom prints.
        var html = File.ReadAllText(files.Html).Replace("</body>",
            "<script>window.addEventListener('load',()=>{const p=document.createElement('pre');p.id='imgcheck';"
            + "p.textContent=[...document.images].map(i=>'IMG '+i.complete+' '+i.naturalWidth+'x'+i.naturalHeight).join('\\n');document.body.appendChild(p);});</script></body>",
            StringComparison.Ordinal);
        var probe = Path.Combine(dir.Path, "probe.html");
        File.WriteAllText(probe, html);
        var psi = new ProcessStartInfo(chromium!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=10000",
                     $"--user-data-dir={Path.Combine(dir.Path, "profile")}", "--dump-dom", new Uri(probe).AbsoluteUri })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var dom = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "chromium did not finish in 120 s");
        var lines = Regex.Matches(dom, @"IMG (\w+) (\d+)x(\d+)").Select(m => m.Groups).ToList();
        Assert.True(lines.Count == 9, $"expected 9 images in the rendered page, found {lines.Count}; chromium said: {stderr.Result}");
        Assert.All(lines, g =>
        {
            Assert.Equal("true", g[1].Value);
            Assert.True(int.Parse(g[2].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, "an image did not load");
        });
        Assert.Contains(lines, g => g[2].Value == "16" && g[3].Value == "12"); // the gallery PNG at its own size
        Assert.Contains(lines, g => g[2].Value == "480" && g[3].Value == "400"); // a ScottPlot figure
    }

    [GeneratedRegex("<img ")]
    private static partial Regex ImgTag();
}
