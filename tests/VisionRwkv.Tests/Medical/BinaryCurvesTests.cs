using VisionRwkv.Medical;

namespace VisionRwkv.Tests.Medical;

public class BinaryCurvesTests
{
    // Four positives, six negatives; ties at 0.8 (pos+neg), 0.7 (pos+2 neg), 0.4 (pos+neg).
    internal static readonly float[] Scores = [0.9f, 0.8f, 0.8f, 0.7f, 0.7f, 0.7f, 0.4f, 0.4f, 0.2f, 0.1f];
    internal static readonly bool[] Targets = [true, true, false, true, false, false, true, false, false, false];

    [Fact]
    public void Roc_curve_has_one_point_per_distinct_score_and_ties_move_diagonally()
    {
        var roc = BinaryCurves.RocCurve(Scores, Targets);
        // Hand counts (tp, fp) after each distinct threshold: 0.9 (1,0), 0.8 (2,1), 0.7 (3,3), 0.4 (4,4), 0.2 (4,5), 0.1 (4,6).
        double[] fpr = [0, 0, 1 / 6.0, 3 / 6.0, 4 / 6.0, 5 / 6.0, 1];
        double[] tpr = [0, 0.25, 0.5, 0.75, 1, 1, 1];
        Assert.Equal(7, roc.Length);
        Assert.True(double.IsPositiveInfinity(roc[0].Threshold));
        for (int i = 0; i < roc.Length; i++)
        {
            Assert.Equal(fpr[i], roc[i].FalsePositiveRate, 12);
            Assert.Equal(tpr[i], roc[i].TruePositiveRate, 12);
        }
        Assert.Equal(0.7f, (float)roc[3].Threshold);
    }

    [Fact]
    public void Auroc_and_average_precision_match_hand_values_with_ties()
    {
        // Mann-Whitney with ties as halves: 6 + 5.5 + 4 + 2.5 = 18 of 24 pairs.
        Assert.Equal(0.75, BinaryCurves.Auroc(Scores, Targets), 12);
        // AP = .25*1 + .25*(2/3) + .25*(3/6) + .25*(4/8) = 2/3.
        Assert.Equal(2.0 / 3, BinaryCurves.AveragePrecision(Scores, Targets), 12);
    }

    [Fact]
    public void Confusion_counts_treat_a_score_equal_to_the_threshold_as_positive()
    {
        var c = BinaryCurves.Confusion(Scores, Targets, 0.7f);
        Assert.Equal((3L, 3L, 3L, 1L), (c.TruePositives, c.FalsePositives, c.TrueNegatives, c.FalseNegatives));
        Assert.Equal(0.75, c.Sensitivity, 12);
        Assert.Equal(0.5, c.Specificity, 12);
        Assert.Equal(0.5, c.Ppv, 12);
        Assert.Equal(0.75, c.Npv, 12);
        Assert.Equal(0.6, c.F1, 12);
        // Nobody called positive: PPV is undefined, not 0.
        var none = BinaryCurves.Confusion(Scores, Targets, 2.0);
        Assert.True(double.IsNaN(none.Ppv));
        Assert.Equal(1.0, none.Specificity, 12);
    }

    [Fact]
    public void Operating_points_take_the_highest_threshold_that_reaches_the_target_sensitivity()
    {
        Assert.Equal(0.4f, (float)OperatingPoints.ChooseThreshold(new OperatingRule.TargetSensitivity(0.9), Scores, Targets));
        Assert.Equal(0.7f, (float)OperatingPoints.ChooseThreshold(new OperatingRule.TargetSensitivity(0.75), Scores, Targets));
        // Youden's J: 0.25, 1/3 (at 0.8), 0.25, 1/3 (at 0.4), ...: the tie goes to the higher threshold.
        Assert.Equal(0.8f, (float)OperatingPoints.ChooseThreshold(new OperatingRule.Youden(), Scores, Targets));
    }

    [Fact]
    public void An_operating_point_is_chosen_on_validation_and_applied_unchanged_to_test()
    {
        float[] testScores = [0.95f, 0.5f, 0.45f, 0.3f];
        bool[] testTargets = [true, true, false, false];
        var op = OperatingPoints.Choose(new OperatingRule.TargetSensitivity(0.9), Scores, Targets, testScores, testTargets);
        Assert.Equal(0.4f, (float)op.Threshold);
        Assert.Equal(1.0, op.Validation.Sensitivity, 12);
        // On test, >= 0.4 calls 0.95, 0.5, 0.45 positive: tp 2, fp 1, tn 1.
        Assert.Equal((2L, 1L, 1L, 0L), (op.Test.TruePositives, op.Test.FalsePositives, op.Test.TrueNegatives, op.Test.FalseNegatives));
    }

    [Fact]
    public void A_label_without_positives_gives_undefined_rates_and_no_threshold()
    {
        float[] s = [0.1f, 0.2f];
        bool[] t = [false, false];
        Assert.True(double.IsNaN(BinaryCurves.Auroc(s, t)));
        Assert.True(double.IsNaN(BinaryCurves.RocCurve(s, t)[^1].TruePositiveRate));
        Assert.True(double.IsNaN(OperatingPoints.ChooseThreshold(new OperatingRule.Youden(), s, t)));
    }
}
