namespace VisionRwkv.Medical;

/// <summary>
/// AUROC and AP of one label under integer sample weights (how often a bootstrap resample drew each image), in one
/// O(N) pass over an order sorted once. The reference path, <see cref="BinaryCurves.Auroc"/>/<see cref="BinaryCurves.AveragePrecision"/>
/// on the expanded resample, sorts every resample: at NIH test-set size (25,596 images x 14 labels) that made 200
/// resamples take about 40 s here. Tests compare the two on resamples.
/// </summary>
public sealed class WeightedRanking
{
    readonly int[] order;       // sample indices by descending score
    readonly int[] groupEnd;    // exclusive end (in order) of each tie group
    readonly bool[] targets;

    public WeightedRanking(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets)
    {
        BinaryCurves.CheckLengths(scores, targets);
        order = BinaryCurves.DescendingOrder(scores);
        this.targets = targets.ToArray();
        var ends = new List<int>();
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            ends.Add(j + 1);
            i = j + 1;
        }
        groupEnd = [.. ends];
    }

    public int Count => order.Length;

    /// <summary>
    /// (AUROC, AP) with sample i counted <paramref name="weights"/>[i] times: the trapezoidal area (ties as diagonal
    /// steps, i.e. the Mann-Whitney statistic with ties as halves) and scikit-learn's step-wise AP. NaN where undefined.
    /// </summary>
    public (double Auroc, double AveragePrecision) Compute(ReadOnlySpan<int> weights)
    {
        if (weights.Length != order.Length) throw new ArgumentException($"{weights.Length} weights for {order.Length} samples.");
        double area = 0, ap = 0;
        long tp = 0, fp = 0;
        int start = 0;
        long positives = 0, negatives = 0;
        for (int i = 0; i < order.Length; i++)
            if (targets[i]) positives += weights[i]; else negatives += weights[i];
        foreach (int end in groupEnd)
        {
            long wp = 0, wn = 0;
            for (int r = start; r < end; r++)
            {
                int s = order[r];
                if (targets[s]) wp += weights[s]; else wn += weights[s];
            }
            area += wn * (tp + wp / 2.0);   // each negative here ranks below tp positives and ties with wp of them
            tp += wp;
            fp += wn;
            if (wp > 0) ap += (double)wp / positives * ((double)tp / (tp + fp));
            start = end;
        }
        // area counts the (positive, negative) pairs ranked correctly, ties as halves: divided by P N it is the AUROC.
        double auroc = positives == 0 || negatives == 0 ? double.NaN : area / ((double)positives * negatives);
        return (auroc, positives == 0 ? double.NaN : ap);
    }
}
