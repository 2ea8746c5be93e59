namespace VisionRwkv.Training;

/// <summary>Precision, recall and F1 of one class (one-vs-rest), with its number of true samples.</summary>
public sealed record ClassMetrics(int ClassIndex, string Name, double Precision, double Recall, double F1, long Support);

/// <summary>Single-label classification metrics over row-major score arrays [N,K]. Pure C#, no tensors.</summary>
public static class ClassificationMetrics
{
    /// <summary>
    /// Fraction of samples whose true class is among the <paramref name="k"/> highest scores. Ties are broken towards
    /// the lower class index (as a stable sort would), so a constant score row puts class 0 first.
    /// </summary>
    public static double TopKAccuracy(ReadOnlySpan<float> scores, int numClasses, ReadOnlySpan<int> labels, int k)
    {
        CheckShape(scores, numClasses, labels.Length);
        if (labels.Length == 0) return double.NaN;
        k = Math.Min(k, numClasses);
        long hits = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = scores.Slice(i * numClasses, numClasses);
            int label = labels[i];
            if ((uint)label >= (uint)numClasses)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {label} of sample {i} is outside [0,{numClasses}).");
            float s = row[label];
            int rank = 0;
            for (int j = 0; j < numClasses; j++)
                if (row[j] > s || (row[j] == s && j < label)) rank++;
            if (rank < k) hits++;
        }
        return (double)hits / labels.Length;
    }

    /// <summary>Index of the highest score per row (lowest index on ties).</summary>
    public static int[] ArgMax(ReadOnlySpan<float> scores, int numClasses)
    {
        if (numClasses < 1 || scores.Length % numClasses != 0)
            throw new ArgumentException($"Score array of length {scores.Length} is not a whole number of rows of {numClasses}.");
        var result = new int[scores.Length / numClasses];
        for (int i = 0; i < result.Length; i++)
        {
            var row = scores.Slice(i * numClasses, numClasses);
            int best = 0;
            for (int j = 1; j < numClasses; j++)
                if (row[j] > row[best]) best = j;
            result[i] = best;
        }
        return result;
    }

    /// <summary>Confusion matrix m[true][predicted] (rows are true classes, as in scikit-learn).</summary>
    public static long[][] ConfusionMatrix(ReadOnlySpan<int> labels, ReadOnlySpan<int> predictions, int numClasses)
    {
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"{labels.Length} labels but {predictions.Length} predictions.");
        var m = new long[numClasses][];
        for (int i = 0; i < numClasses; i++) m[i] = new long[numClasses];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)numClasses || (uint)predictions[i] >= (uint)numClasses)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Sample {i}: label {labels[i]} or prediction {predictions[i]} is outside [0,{numClasses}).");
            m[labels[i]][predictions[i]]++;
        }
        return m;
    }

    /// <summary>
    /// Per-class precision, recall and F1 from a confusion matrix. A ratio with a zero denominator is 0
    /// (scikit-learn's zero_division=0).
    /// </summary>
    public static ClassMetrics[] PerClass(long[][] confusion, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        int k = confusion.Length;
        var result = new ClassMetrics[k];
        for (int c = 0; c < k; c++)
        {
            long tp = confusion[c][c], support = 0, predicted = 0;
            for (int j = 0; j < k; j++)
            {
                support += confusion[c][j];
                predicted += confusion[j][c];
            }
            result[c] = FromCounts(c, Name(classNames, c), tp, predicted - tp, support - tp);
        }
        return result;
    }

    internal static ClassMetrics FromCounts(int index, string name, long tp, long fp, long fn)
    {
        double precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        double recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassMetrics(index, name, precision, recall, f1, tp + fn);
    }

    internal static string Name(IReadOnlyList<string>? names, int i) =>
        names is not null && i < names.Count ? names[i] : i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    static void CheckShape(ReadOnlySpan<float> scores, int numClasses, int n)
    {
        if (numClasses < 1 || scores.Length != (long)n * numClasses)
            throw new ArgumentException($"Score array of length {scores.Length} does not match {n} samples x {numClasses} classes.");
    }
}

/// <summary>Per-label and averaged ranking metrics of a multi-label problem.</summary>
/// <param name="Auroc">Per-label ROC AUC; NaN where a label has no positives or no negatives.</param>
/// <param name="AveragePrecision">Per-label average precision; NaN where a label has no positives.</param>
/// <param name="MacroAuroc">Mean of the defined per-label AUROCs.</param>
/// <param name="MacroAveragePrecision">Mean of the defined per-label APs.</param>
/// <param name="MicroAuroc">AUROC of all (sample, label) pairs pooled.</param>
/// <param name="MicroAveragePrecision">AP of all (sample, label) pairs pooled.</param>
public sealed record MultiLabelReport(double[] Auroc, double[] AveragePrecision, double MacroAuroc, double MacroAveragePrecision,
    double MicroAuroc, double MicroAveragePrecision);

/// <summary>Ranking metrics for binary and multi-label scores. Pure C#, no tensors.</summary>
public static class MultiLabelMetrics
{
    /// <summary>
    /// ROC AUC by the rank-sum (Mann-Whitney U) formula with mid-ranks for tied scores, which equals the area under the
    /// trapezoidal ROC curve. NaN when all labels are equal.
    /// </summary>
    public static double Auroc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels.");
        int n = scores.Length;
        var order = SortedIndices(scores, descending: false);
        long positives = 0;
        double rankSumPositives = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) j++;
            double midRank = (i + j) / 2.0 + 1; // ranks are 1-based; tied block i..j shares the mean rank
            for (int t = i; t <= j; t++)
                if (labels[order[t]]) { positives++; rankSumPositives += midRank; }
            i = j + 1;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        return (rankSumPositives - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>
    /// Average precision as in scikit-learn: sum over distinct score thresholds (descending) of
    /// (recall_t - recall_{t-1}) * precision_t; tied scores form one threshold. NaN when there are no positives.
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels.");
        int n = scores.Length;
        long totalPositives = 0;
        foreach (var l in labels) if (l) totalPositives++;
        if (totalPositives == 0) return double.NaN;
        var order = SortedIndices(scores, descending: true);
        double ap = 0, previousRecall = 0;
        long tp = 0, seen = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) j++;
            for (int t = i; t <= j; t++)
            {
                seen++;
                if (labels[order[t]]) tp++;
            }
            double recall = (double)tp / totalPositives, precision = (double)tp / seen;
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
            i = j + 1;
        }
        return ap;
    }

    /// <summary>Per-label, macro and micro AUROC and AP of row-major [N,K] scores and {0,1} labels.</summary>
    public static MultiLabelReport Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, int numLabels)
    {
        if (numLabels < 1 || scores.Length != labels.Length || scores.Length % numLabels != 0)
            throw new ArgumentException($"Scores ({scores.Length}) and labels ({labels.Length}) must both be N x {numLabels}.");
        int n = scores.Length / numLabels;
        var auroc = new double[numLabels];
        var ap = new double[numLabels];
        var colScores = new float[n];
        var colLabels = new bool[n];
        for (int k = 0; k < numLabels; k++)
        {
            for (int i = 0; i < n; i++)
            {
                colScores[i] = scores[i * numLabels + k];
                colLabels[i] = labels[i * numLabels + k];
            }
            auroc[k] = Auroc(colScores, colLabels);
            ap[k] = AveragePrecision(colScores, colLabels);
        }
        return new MultiLabelReport(auroc, ap, NanMean(auroc), NanMean(ap), Auroc(scores, labels), AveragePrecision(scores, labels));
    }

    /// <summary>
    /// As <see cref="Compute"/> for targets 1, 0 or NaN: a NaN (masked) pair is left out of its label's AUROC/AP and of the
    /// micro averages. With no NaN it equals <see cref="Compute"/> on targets == 1.
    /// </summary>
    public static MultiLabelReport ComputeMasked(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets, int numLabels)
    {
        if (numLabels < 1 || scores.Length != targets.Length || scores.Length % numLabels != 0)
            throw new ArgumentException($"Scores ({scores.Length}) and targets ({targets.Length}) must both be N x {numLabels}.");
        int n = scores.Length / numLabels;
        var auroc = new double[numLabels];
        var ap = new double[numLabels];
        var allScores = new List<float>(scores.Length);
        var allLabels = new List<bool>(scores.Length);
        for (int k = 0; k < numLabels; k++)
        {
            var colScores = new List<float>(n);
            var colLabels = new List<bool>(n);
            for (int i = 0; i < n; i++)
            {
                float t = targets[i * numLabels + k];
                if (float.IsNaN(t)) continue;
                colScores.Add(scores[i * numLabels + k]);
                colLabels.Add(t >= 0.5f);
            }
            auroc[k] = Auroc(colScores.ToArray(), colLabels.ToArray());
            ap[k] = AveragePrecision(colScores.ToArray(), colLabels.ToArray());
        }
        for (int j = 0; j < scores.Length; j++)
        {
            if (float.IsNaN(targets[j])) continue;
            allScores.Add(scores[j]);
            allLabels.Add(targets[j] >= 0.5f);
        }
        return new MultiLabelReport(auroc, ap, NanMean(auroc), NanMean(ap), Auroc(allScores.ToArray(), allLabels.ToArray()),
            AveragePrecision(allScores.ToArray(), allLabels.ToArray()));
    }

    /// <summary>Mean of the non-NaN entries; NaN when there are none.</summary>
    public static double NanMean(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double sum = 0;
        int count = 0;
        foreach (var v in values)
            if (!double.IsNaN(v)) { sum += v; count++; }
        return count == 0 ? double.NaN : sum / count;
    }

    static int[] SortedIndices(ReadOnlySpan<float> scores, bool descending)
    {
        var keys = scores.ToArray();
        var idx = new int[keys.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(keys, idx);
        if (descending) Array.Reverse(idx);
        return idx;
    }
}
