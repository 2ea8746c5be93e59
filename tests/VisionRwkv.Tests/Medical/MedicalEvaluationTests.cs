using System.Globalization;
using VisionRwkv.Common;
using VisionRwkv.Medical;

namespace VisionRwkv.Tests.Medical;

public class MedicalEvaluationTests
{
    static readonly string[] LabelNames = ["Effusion", "Nodule"];

    /// <summary>A split of <paramref name="patients"/> patients with 1-3 images; logits over-confident by 2x; Nodule masked on every 5th image.</summary>
    static EvaluationSet Synthetic(int patients, ulong seed)
    {
        var rng = new SeededRng(seed);
        var ids = new List<string>();
        var pids = new List<string>();
        var logits = new List<float>();
        var targets = new List<float>();
        for (int p = 0; p < patients; p++)
        {
            int images = rng.NextInt(1, 3);
            for (int k = 0; k < images; k++)
            {
                ids.Add($"s{seed}-img{ids.Count}");
                pids.Add($"s{seed}-pat{p}");
                for (int l = 0; l < LabelNames.Length; l++)
                {
                    double z = -1.5 + 1.5 * rng.NextGaussian();
                    bool y = rng.NextDouble() < 1 / (1 + Math.Exp(-z));
                    logits.Add((float)(2 * z));
                    targets.Add(l == 1 && ids.Count % 5 == 0 ? float.NaN : y ? 1 : 0);
                }
            }
        }
        return new EvaluationSet(ids, pids, LabelNames, [.. logits], [.. targets]);
    }

    [Fact]
    public void Evaluation_reports_intervals_operating_points_and_calibration_per_label()
    {
        var validation = Synthetic(400, 1);
        var test = Synthetic(400, 2);
        var report = MedicalEvaluation.Evaluate(validation, test, new MedicalEvaluationOptions { BootstrapResamples = 200, Seed = 9 });
        Assert.Equal(2, report.Labels.Length);
        Assert.Equal(400, report.TestPatients);
        for (int l = 0; l < 2; l++)
        {
            var e = report.Labels[l];
            var (z, y) = test.Column(l);
            Assert.Equal(BinaryCurves.Auroc(z, y), e.Auroc.Point, 12);
            Assert.Equal(y.Length, e.Positives + e.Negatives);
            Assert.InRange(e.Auroc.Point, e.Auroc.Lower, e.Auroc.Upper);
            Assert.InRange(e.AveragePrecision.Point, e.AveragePrecision.Lower, e.AveragePrecision.Upper);
            // Logits were doubled, so the validation fit should find T near 2 and improve calibration on test.
            Assert.InRange(e.Calibration.Temperature, 1.6, 2.5);
            Assert.True(e.Calibration.EqualWidthAfter.Ece < e.Calibration.EqualWidthBefore.Ece);
            Assert.True(e.Calibration.EqualMassAfter.Ece < e.Calibration.EqualMassBefore.Ece);
            Assert.Equal(3, e.OperatingPoints.Length);
            Assert.True(e.OperatingPoints[0].Validation.Sensitivity >= 0.90);
            Assert.True(e.OperatingPoints[1].Validation.Sensitivity >= 0.95);
            Assert.Equal(y.Length, e.OperatingPoints[0].Test.Positives + e.OperatingPoints[0].Test.Negatives);
        }
        // Masking: Nodule is evaluated on fewer images than Effusion.
        Assert.True(report.Labels[1].Positives + report.Labels[1].Negatives < test.Count);
        Assert.Equal((report.Labels[0].Auroc.Point + report.Labels[1].Auroc.Point) / 2, report.MacroAuroc.Point, 12);
        Assert.InRange(report.MacroAuroc.Point, report.MacroAuroc.Lower, report.MacroAuroc.Upper);
    }

    [Fact]
    public void The_operating_point_counts_can_be_recomputed_from_predictions_csv()
    {
        var validation = Synthetic(200, 3);
        var test = Synthetic(200, 4);
        var report = MedicalEvaluation.Evaluate(validation, test, new MedicalEvaluationOptions { BootstrapResamples = 20 });
        var dir = Path.Combine(Path.GetTempPath(), "rwkv-medical-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "predictions.csv");
            PredictionsCsv.Write(path, test, report.Temperatures);
            var (header, rows) = CsvFiles.Read(path);
            Assert.Equal(test.Count, rows.Count);
            for (int l = 0; l < LabelNames.Length; l++)
            {
                int targetCol = Array.IndexOf(header, LabelNames[l] + "_target"), scoreCol = Array.IndexOf(header, LabelNames[l] + "_score");
                var kept = rows.Where(r => r.Cells[targetCol].Length > 0).ToArray();
                var scores = kept.Select(r => float.Parse(r.Cells[scoreCol], CultureInfo.InvariantCulture)).ToArray();
                var targets = kept.Select(r => r.Cells[targetCol] == "1").ToArray();
                foreach (var op in report.Labels[l].OperatingPoints)
                    Assert.Equal(op.Test, BinaryCurves.Confusion(scores, targets, op.Threshold));
                var raw = kept.Select(r => float.Parse(r.Cells[scoreCol + 1], CultureInfo.InvariantCulture)).ToArray();
                Assert.Equal(report.Labels[l].Auroc.Point, BinaryCurves.Auroc(raw, targets), 9);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Predictions_csv_holds_ids_targets_and_scaled_and_raw_scores()
    {
        var set = new EvaluationSet(["img,1", "img2"], ["p1", "p2"], ["A", "B"],
            [0f, (float)Math.Log(3), (float)(2 * Math.Log(3)), -1f], [1f, float.NaN, 0f, 1f]);
        var dir = Path.Combine(Path.GetTempPath(), "rwkv-medical-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "predictions.csv");
            PredictionsCsv.Write(path, set, [2.0, 1.0]);
            var (header, rows) = CsvFiles.Read(path);
            Assert.Equal(["image_id", "patient_id", "A_target", "A_score", "A_raw_score", "B_target", "B_score", "B_raw_score"], header);
            Assert.Equal(2, rows.Count);
            var r0 = rows[0].Cells;
            Assert.Equal("img,1", r0[0]); // the comma survives quoting
            Assert.Equal("1", r0[2]);
            Assert.Equal(0.5, double.Parse(r0[3], CultureInfo.InvariantCulture), 6);
            Assert.Equal("", r0[5]); // masked target
            Assert.Equal(0.75, double.Parse(r0[6], CultureInfo.InvariantCulture), 6); // sigmoid(ln 3), T = 1
            var r1 = rows[1].Cells;
            Assert.Equal(0.75, double.Parse(r1[3], CultureInfo.InvariantCulture), 6); // sigmoid(2 ln 3 / 2)
            Assert.Equal(0.9, double.Parse(r1[4], CultureInfo.InvariantCulture), 6); // sigmoid(2 ln 3) = 9/10
            Assert.Equal("0", r1[2]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_target_other_than_zero_one_or_masked_is_rejected_with_the_image_and_label()
    {
        var set = new EvaluationSet(["x"], ["p"], ["A"], [0f], [-1f]);
        var e = Assert.Throws<ArgumentException>(set.Validate);
        Assert.Contains("Image x, label A", e.Message);
    }
}

public class MedicalEvaluationTimingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The size of the NIH ChestX-ray14 official test list (25,596 images, 14 findings), 200 resamples.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Evaluation_time_at_nih_test_set_size_is_printed()
    {
        var rng = new SeededRng(1);
        int n = 25_596, k = 14;
        var ids = Enumerable.Range(0, n).Select(i => $"img{i}").ToArray();
        var pids = Enumerable.Range(0, n).Select(i => $"pat{i / 4}").ToArray();
        var labels = Enumerable.Range(0, k).Select(l => $"L{l}").ToArray();
        var logits = new float[n * k];
        var targets = new float[n * k];
        for (int i = 0; i < logits.Length; i++)
        {
            bool y = rng.Chance(0.05);
            targets[i] = y ? 1 : 0;
            logits[i] = (float)((y ? 1.5 : -1.5) + rng.NextGaussian());
        }
        var set = new EvaluationSet(ids, pids, labels, logits, targets);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var report = MedicalEvaluation.Evaluate(set, set, new MedicalEvaluationOptions { BootstrapResamples = 200 });
        output.WriteLine($"{n} images x {k} labels, 200 patient resamples: {sw.Elapsed.TotalSeconds:F1} s; macro AUROC {report.MacroAuroc.Point:F4} [{report.MacroAuroc.Lower:F4}, {report.MacroAuroc.Upper:F4}]");
        Assert.InRange(report.MacroAuroc.Point, report.MacroAuroc.Lower, report.MacroAuroc.Upper);
    }
}
