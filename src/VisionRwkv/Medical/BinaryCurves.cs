using VisionRwkv.Training;

namespace VisionRwkv.Medical;

/// <summary>
/// Counts of one binary decision rule "positive when score &gt;= threshold" (scikit-learn's convention in roc_curve),
/// with the rates a reader of a diagnostic study expects. A ratio with a zero denominator is NaN: an undefined PPV at a
/// threshold that calls nobody positive is not the same as a PPV of 0.
/// </summary>
public sealed record ConfusionCounts(double Threshold, long TruePositives, long FalsePositives, long TrueNegatives, long FalseNegatives)
{
    public long Positives => TruePositives + FalseNegatives;
    public long Negatives => TrueNegatives + FalsePositives;
    public double Sensitivity => Ratio(TruePositives, Positives);
    public double Specificity => Ratio(TrueNegatives, Negatives);
    public double Ppv => Ratio(TruePositives, TruePositives + FalsePositives);
    public double Npv => Ratio(TrueNegatives, TrueNegatives + FalseNegatives);
    public double F1 => Ratio(2 * TruePositives, 2 * TruePositives + FalsePositives + FalseNegatives);

    static double Ratio(long a, long b) => b == 0 ? double.NaN : (double)a / b;
}

/// <summary>One ROC point: the rates of the rule "score &gt;= Threshold". The first point has Threshold +inf (nobody positive).</summary>
public readonly record struct RocPoint(double Threshold, double FalsePositiveRate, double TruePositiveRate);

/// <summary>
/// ROC curve, confusion counts and ranking metrics of one label's scores against binary targets. Labels are masked by
/// passing only the evaluated samples. AUROC and AP are <see cref="MultiLabelMetrics"/>'s (rank-sum with mid-ranks, and
/// scikit-learn's step-wise AP), not re-implemented here.
/// </summary>
public static class BinaryCurves
{
    public static double Auroc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets) => MultiLabelMetrics.Auroc(scores, targets);

    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets) => MultiLabelMetrics.AveragePrecision(scores, targets);

    /// <summary>
    /// Every point of the ROC curve, one per distinct score (descending), after a first point (+inf, 0, 0); tied scores
    /// move as one step, so a tie between a positive and a negative is a diagonal segment. This equals scikit-learn's
    /// roc_curve(drop_intermediate=False). The rates are NaN when the targets hold no positives (or no negatives).
    /// </summary>
    public static RocPoint[] RocCurve(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets)
    {
        CheckLengths(scores, targets);
        int n = scores.Length;
        long positives = 0;
        foreach (var t in targets) if (t) positives++;
        long negatives = n - positives;
        var order = DescendingOrder(scores);
        var points = new List<RocPoint>(n + 1) { new(double.PositiveInfinity, Rate(0, negatives), Rate(0, positives)) };
        long tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) j++;
            for (int k = i; k <= j; k++)
                if (targets[order[k]]) tp++; else fp++;
            points.Add(new RocPoint(scores[order[i]], Rate(fp, negatives), Rate(tp, positives)));
            i = j + 1;
        }
        return [.. points];
    }

    /// <summary>Confusion counts of the rule "positive when score &gt;= threshold".</summary>
    public static ConfusionCounts Confusion(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets, double threshold)
    {
        CheckLengths(scores, targets);
        long tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            bool predicted = scores[i] >= threshold;
            if (targets[i]) { if (predicted) tp++; else fn++; }
            else { if (predicted) fp++; else tn++; }
        }
        return new ConfusionCounts(threshold, tp, fp, tn, fn);
    }

    internal static int[] DescendingOrder(ReadOnlySpan<float> scores)
    {
        foreach (var s in scores)
            if (float.IsNaN(s)) throw new ArgumentException("A score is NaN; scores must be numbers.", nameof(scores));
        var keys = scores.ToArray();
        var idx = new int[keys.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(keys, idx);
        Array.Reverse(idx);
        return idx;
    }

    internal static void CheckLengths(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets)
    {
        if (scores.Length != targets.Length) throw new ArgumentException($"{scores.Length} scores but {targets.Length} targets.");
    }

    static double Rate(long count, long total) => total == 0 ? double.NaN : (double)count / total;
}
