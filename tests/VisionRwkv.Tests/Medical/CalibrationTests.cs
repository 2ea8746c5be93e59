using VisionRwkv.Common;
using VisionRwkv.Medical;

namespace VisionRwkv.Tests.Medical;

public class CalibrationTests
{
    // Binary fractions, so the hand sums below are exact.
    static readonly float[] P = [0.125f, 0.25f, 0.25f, 0.625f, 0.75f, 1.0f];
    static readonly bool[] Y = [false, false, true, true, false, true];

    [Fact]
    public void Equal_width_ece_matches_a_hand_computation()
    {
        var d = Calibration.Reliability(P, Y, bins: 2, BinScheme.EqualWidth);
        // [0,.5): .125,.25,.25 -> conf 5/24, acc 1/3; [.5,1]: .625,.75,1 (1 falls in the last bin) -> conf 19/24, acc 2/3.
        Assert.Equal(5.0 / 24, d.Bins[0].MeanConfidence, 12);
        Assert.Equal(1.0 / 3, d.Bins[0].Accuracy, 12);
        Assert.Equal(3, d.Bins[1].Count);
        Assert.Equal(19.0 / 24, d.Bins[1].MeanConfidence, 12);
        // ECE = 3/6*|1/3-5/24| + 3/6*|2/3-19/24| = .0625 + .0625.
        Assert.Equal(0.125, d.Ece, 12);
    }

    [Fact]
    public void Equal_mass_ece_matches_a_hand_computation_and_splits_ties_by_input_order()
    {
        var d = Calibration.Reliability(P, Y, bins: 3, BinScheme.EqualMass);
        // Sorted (stable): {.125:0, .25:0}, {.25:1, .625:1}, {.75:0, 1:1}.
        Assert.Equal([2L, 2L, 2L], d.Bins.Select(b => b.Count));
        Assert.Equal(0.0, d.Bins[0].Accuracy, 12);
        Assert.Equal(1.0, d.Bins[1].Accuracy, 12);
        // ECE = 2/6*(.1875) + 2/6*(1-.4375) + 2/6*(.875-.5) = .0625 + .1875 + .125.
        Assert.Equal(0.375, d.Ece, 12);
        Assert.Equal(0.25f, (float)d.Bins[1].Lower);
        Assert.Equal(0.625f, (float)d.Bins[1].Upper);
    }

    [Fact]
    public void Empty_bins_are_kept_for_the_plot_but_do_not_count()
    {
        var d = Calibration.Reliability([0.9f, 0.9f], [true, false], bins: 10);
        Assert.Equal(10, d.Bins.Length);
        Assert.True(double.IsNaN(d.Bins[0].MeanConfidence));
        Assert.Equal(0.4, d.Ece, 6);
    }

    [Fact]
    public void A_probability_outside_zero_one_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Calibration.Reliability([1.5f], [true]));
        Assert.Contains("1.5", e.Message);
    }

    [Fact]
    public void Temperature_scaling_recovers_a_known_temperature()
    {
        // True logits z ~ N(0, 2^2), y ~ Bernoulli(sigmoid(z)); the model reports 2.5 z, i.e. it is over-confident by T = 2.5.
        var rng = new SeededRng(7);
        int n = 40_000;
        var logits = new float[n];
        var targets = new bool[n];
        for (int i = 0; i < n; i++)
        {
            double z = 2 * rng.NextGaussian();
            targets[i] = rng.NextDouble() < 1 / (1 + Math.Exp(-z));
            logits[i] = (float)(2.5 * z);
        }
        double t = TemperatureScaling.Fit(logits, targets);
        Assert.InRange(t, 2.4, 2.6);
        double before = Calibration.ExpectedCalibrationError(TemperatureScaling.Apply(logits, 1), targets, 15);
        double after = Calibration.ExpectedCalibrationError(TemperatureScaling.Apply(logits, t), targets, 15);
        Assert.True(after < before / 3, $"ECE before {before}, after {after}");
        // The fit is a minimum of the validation BCE.
        double at = TemperatureScaling.MeanBce(logits, targets, 1 / t);
        Assert.True(at <= TemperatureScaling.MeanBce(logits, targets, 1 / (t * 1.02)));
        Assert.True(at <= TemperatureScaling.MeanBce(logits, targets, 1 / (t / 1.02)));
    }

    [Fact]
    public void Temperature_scaling_of_a_single_class_label_is_left_at_one()
    {
        Assert.Equal(1.0, TemperatureScaling.Fit([1f, 2f], [true, true]));
    }
}
