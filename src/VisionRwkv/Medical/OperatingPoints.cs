namespace VisionRwkv.Medical;

/// <summary>How an operating point's threshold is chosen on the validation scores.</summary>
public abstract record OperatingRule
{
    /// <summary>The highest threshold whose validation sensitivity is at least <paramref name="Target"/> (e.g. 0.90, 0.95).</summary>
    public sealed record TargetSensitivity(double Target) : OperatingRule
    {
        public override string ToString() => $"sensitivity>={Target.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>The threshold maximising Youden's J = sensitivity + specificity - 1 (the highest threshold on ties).</summary>
    public sealed record Youden : OperatingRule
    {
        public override string ToString() => "youden";
    }
}

/// <summary>A threshold chosen on validation and the counts it gives on validation and on test.</summary>
public sealed record OperatingPoint(string Rule, double Threshold, ConfusionCounts Validation, ConfusionCounts Test);

/// <summary>
/// Thresholds are chosen on validation scores only and then applied unchanged to the test scores, so the test numbers
/// are an honest estimate of how the rule behaves on new patients.
/// </summary>
public static class OperatingPoints
{
    public static double ChooseThreshold(OperatingRule rule, ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var curve = BinaryCurves.RocCurve(scores, targets);
        if (curve.Length < 2 || double.IsNaN(curve[^1].TruePositiveRate) || double.IsNaN(curve[^1].FalsePositiveRate))
            return double.NaN; // no positives or no negatives: no rule can be chosen
        switch (rule)
        {
            case OperatingRule.TargetSensitivity t:
                if (!(t.Target > 0 && t.Target <= 1)) throw new ArgumentOutOfRangeException(nameof(rule), $"Target sensitivity {t.Target} is outside (0,1].");
                // The curve runs from high to low thresholds with rising sensitivity: the first point reaching the target
                // is the highest such threshold (the best specificity among them).
                for (int i = 1; i < curve.Length; i++)
                    if (curve[i].TruePositiveRate >= t.Target) return curve[i].Threshold;
                return curve[^1].Threshold;
            case OperatingRule.Youden:
                int best = 1;
                for (int i = 2; i < curve.Length; i++)
                    if (curve[i].TruePositiveRate - curve[i].FalsePositiveRate > curve[best].TruePositiveRate - curve[best].FalsePositiveRate) best = i;
                return curve[best].Threshold;
            default:
                throw new ArgumentException($"Unknown operating rule {rule}.", nameof(rule));
        }
    }

    /// <summary>Chooses the threshold on validation and reports its counts on validation and test.</summary>
    public static OperatingPoint Choose(OperatingRule rule, ReadOnlySpan<float> validationScores, ReadOnlySpan<bool> validationTargets,
        ReadOnlySpan<float> testScores, ReadOnlySpan<bool> testTargets)
    {
        ArgumentNullException.ThrowIfNull(rule);
        double threshold = ChooseThreshold(rule, validationScores, validationTargets);
        return new OperatingPoint(rule.ToString(), threshold,
            BinaryCurves.Confusion(validationScores, validationTargets, threshold),
            BinaryCurves.Confusion(testScores, testTargets, threshold));
    }
}
