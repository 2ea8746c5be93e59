using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Medical;
using VisionRwkv.Tests.Checkpoints;

namespace VisionRwkv.Tests.Medical;

/// <summary>
/// Our AUROC, AP, ROC points and confusion counts against scikit-learn on fixed vectors with ties, through
/// sklearn_reference.py run at test time (skipped without a python3 that has scikit-learn).
/// </summary>
public class SklearnComparisonTests
{
    sealed record Case(float[] Scores, bool[] Targets, double[] Thresholds);

    static IReadOnlyList<Case> Cases()
    {
        var cases = new List<Case>
        {
            new(BinaryCurvesTests.Scores, BinaryCurvesTests.Targets, [0.7f, 0.4f, 0.5, 0.0, 1.0, 0.8f]),
            // Every score tied: a single diagonal step, AUROC 0.5.
            new([0.3f, 0.3f, 0.3f, 0.3f, 0.3f], [true, false, false, true, false], [0.3f, 0.2, 0.4]),
        };
        // 300 samples with scores on a 0.05 grid (many ties) loosely tied to the targets, prevalence about 15%.
        var rng = new SeededRng(16);
        var scores = new float[300];
        var targets = new bool[300];
        for (int i = 0; i < scores.Length; i++)
        {
            targets[i] = rng.Chance(0.15);
            double raw = Math.Clamp(0.35 + (targets[i] ? 0.2 : 0) + 0.2 * rng.NextGaussian(), 0, 1);
            scores[i] = (float)(Math.Round(raw * 20) / 20);
        }
        cases.Add(new(scores, targets, [0.5f, 0.35f, 0.6f, 0.05f]));
        return cases;
    }

    [PythonSklearnFact]
    public void Auroc_ap_roc_points_and_confusion_counts_match_scikit_learn()
    {
        var cases = Cases();
        var dir = Path.Combine(Path.GetTempPath(), "rwkv-medical-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var input = Path.Combine(dir, "cases.json");
            // Floats widen exactly to doubles, so scikit-learn sees the very values (and ties) we rank.
            File.WriteAllText(input, JsonSerializer.Serialize(new
            {
                cases = cases.Select(c => new
                {
                    scores = c.Scores.Select(s => (double)s),
                    labels = c.Targets.Select(t => t ? 1 : 0),
                    thresholds = c.Thresholds,
                }),
            }));
            var script = Path.Combine(TestPaths.RepoRoot, "tests", "VisionRwkv.Tests", "Medical", "sklearn_reference.py");
            var (code, output) = Python.Run(Python.SklearnExe!,
                "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                TimeSpan.FromMinutes(2), script, input);
            Assert.True(code == 0, output);
            using var doc = JsonDocument.Parse(output);
            var refs = doc.RootElement.GetProperty("cases");
            Assert.Equal(cases.Count, refs.GetArrayLength());
            for (int c = 0; c < cases.Count; c++)
            {
                var (s, t) = (cases[c].Scores, cases[c].Targets);
                var r = refs[c];
                Assert.Equal(r.GetProperty("auroc").GetDouble(), BinaryCurves.Auroc(s, t), 12);
                Assert.Equal(r.GetProperty("ap").GetDouble(), BinaryCurves.AveragePrecision(s, t), 12);
                var roc = BinaryCurves.RocCurve(s, t);
                var fpr = Doubles(r.GetProperty("fpr"));
                var tpr = Doubles(r.GetProperty("tpr"));
                var thr = Doubles(r.GetProperty("roc_thresholds"));
                Assert.Equal(fpr.Length, roc.Length);
                for (int i = 0; i < roc.Length; i++)
                {
                    Assert.Equal(fpr[i], roc[i].FalsePositiveRate, 12);
                    Assert.Equal(tpr[i], roc[i].TruePositiveRate, 12);
                    if (i > 0) Assert.Equal(thr[i - 1], roc[i].Threshold);
                }
                var confusion = r.GetProperty("confusion");
                for (int k = 0; k < cases[c].Thresholds.Length; k++)
                {
                    var m = BinaryCurves.Confusion(s, t, cases[c].Thresholds[k]);
                    var e = confusion[k].EnumerateArray().Select(v => v.GetInt64()).ToArray(); // tn, fp, fn, tp
                    Assert.Equal(e, new[] { m.TrueNegatives, m.FalsePositives, m.FalseNegatives, m.TruePositives });
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static double[] Doubles(JsonElement array) =>
        [.. array.EnumerateArray().Select(v => v.GetDouble())];
}
