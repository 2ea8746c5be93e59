using VisionRwkv.Common;
using VisionRwkv.Medical;

namespace VisionRwkv.Tests.Medical;

public class PatientBootstrapTests
{
    [Fact]
    public void A_resample_takes_all_images_of_a_drawn_patient_together()
    {
        // 30 patients with 1 to 4 images each, images of one patient not adjacent.
        var patientOf = new List<string>();
        for (int copy = 0; copy < 4; copy++)
            for (int p = 0; p < 30; p++)
                if (copy <= p % 4) patientOf.Add($"P{p}");
        var boot = new PatientBootstrap(patientOf);
        Assert.Equal(30, boot.PatientCount);
        var rng = new SeededRng(3);
        for (int b = 0; b < 200; b++)
        {
            var counts = new int[patientOf.Count];
            foreach (var i in boot.Resample(rng)) counts[i]++;
            int patientsDrawn = 0;
            foreach (var group in Enumerable.Range(0, patientOf.Count).GroupBy(i => patientOf[i]))
            {
                var c = group.Select(i => counts[i]).Distinct().ToArray();
                Assert.Single(c); // every image of the patient drawn the same number of times
                patientsDrawn += c[0];
            }
            Assert.Equal(30, patientsDrawn);
        }
    }

    [Fact]
    public void The_interval_contains_the_point_estimate_and_is_reproducible()
    {
        var rng = new SeededRng(11);
        var patients = new List<string>();
        var scores = new List<float>();
        var targets = new List<bool>();
        for (int p = 0; p < 150; p++)
        {
            bool sick = rng.Chance(0.3);
            int images = rng.NextInt(1, 3);
            for (int k = 0; k < images; k++)
            {
                patients.Add($"patient-{p}");
                targets.Add(sick);
                scores.Add((float)((sick ? 0.8 : 0) + rng.NextGaussian()));
            }
        }
        var boot = new PatientBootstrap(patients);
        double Stat(int[] idx) => BinaryCurves.Auroc(idx.Select(i => scores[i]).ToArray(), idx.Select(i => targets[i]).ToArray());
        var ci = boot.Interval(Stat, resamples: 500, seed: 5);
        Assert.Equal(BinaryCurves.Auroc(scores.ToArray(), targets.ToArray()), ci.Point, 12);
        Assert.InRange(ci.Point, ci.Lower, ci.Upper);
        Assert.True(ci.Upper - ci.Lower is > 0.02 and < 0.4, $"[{ci.Lower}, {ci.Upper}]");
        Assert.Equal(500, ci.Resamples);
        Assert.Equal(ci, boot.Interval(Stat, resamples: 500, seed: 5));
        Assert.NotEqual(ci.Lower, boot.Interval(Stat, resamples: 500, seed: 6).Lower);
    }

    [Fact]
    public void Percentiles_interpolate_between_order_statistics_like_numpy()
    {
        // numpy.percentile([1,2,3,4], [25, 97.5]) = [1.75, 3.925].
        Assert.Equal(1.75, PatientBootstrap.Percentile([1, 2, 3, 4], 0.25), 12);
        Assert.Equal(3.925, PatientBootstrap.Percentile([1, 2, 3, 4], 0.975), 12);
    }

    [Fact]
    public void Undefined_resamples_are_counted_and_left_out()
    {
        // Two patients, one positive: a resample that draws the negative patient twice has no AUROC.
        string[] patients = ["a", "a", "b"];
        float[] s = [0.9f, 0.8f, 0.1f];
        bool[] y = [true, true, false];
        var ci = new PatientBootstrap(patients).Interval(idx => BinaryCurves.Auroc(idx.Select(i => s[i]).ToArray(), idx.Select(i => y[i]).ToArray()), 200, 1);
        Assert.InRange(ci.Undefined, 50, 150); // half of the resamples draw one patient twice
        Assert.Equal(1.0, ci.Lower);
    }
}

public class WeightedRankingTests
{
    [Fact]
    public void The_one_pass_weighted_metrics_equal_the_sorting_reference_on_expanded_resamples()
    {
        // Scores on a coarse grid (many ties); several images per patient.
        var rng = new SeededRng(21);
        int n = 400;
        var scores = new float[n];
        var targets = new bool[n];
        var patients = new string[n];
        for (int i = 0; i < n; i++)
        {
            targets[i] = rng.Chance(0.1);
            scores[i] = (float)Math.Round((targets[i] ? 1 : 0) + rng.NextGaussian(), 1);
            patients[i] = $"p{i / 3}";
        }
        var ranking = new WeightedRanking(scores, targets);
        var boot = new PatientBootstrap(patients);
        var ones = Enumerable.Repeat(1, n).ToArray();
        Assert.Equal(BinaryCurves.Auroc(scores, targets), ranking.Compute(ones).Auroc, 12);
        Assert.Equal(BinaryCurves.AveragePrecision(scores, targets), ranking.Compute(ones).AveragePrecision, 12);
        for (int b = 0; b < 50; b++)
        {
            var idx = boot.Resample(rng);
            var weights = new int[n];
            foreach (var i in idx) weights[i]++;
            var (auroc, ap) = ranking.Compute(weights);
            var s = idx.Select(i => scores[i]).ToArray();
            var y = idx.Select(i => targets[i]).ToArray();
            Assert.Equal(BinaryCurves.Auroc(s, y), auroc, 12);
            Assert.Equal(BinaryCurves.AveragePrecision(s, y), ap, 12);
        }
    }
}
