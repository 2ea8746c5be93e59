namespace VisionRwkv.Medical;

/// <summary>How calibration bins are laid out.</summary>
public enum BinScheme
{
    /// <summary>M bins of width 1/M on [0,1]; the last one includes 1.</summary>
    EqualWidth,

    /// <summary>M bins holding (as nearly as possible) the same number of samples, in ascending score order.</summary>
    EqualMass,
}

/// <summary>One bin of a reliability diagram: the mean predicted probability, the observed fraction of positives, and the count.</summary>
public sealed record ReliabilityBin(double Lower, double Upper, double MeanConfidence, double Accuracy, long Count);

/// <summary>A reliability diagram and its expected calibration error.</summary>
/// <param name="Scheme">How the bins were laid out.</param>
/// <param name="Bins">The bins, in ascending probability.</param>
/// <param name="Ece">sum over bins of (count/N) * |accuracy - mean confidence|; NaN for an empty sample.</param>
public sealed record ReliabilityDiagram(BinScheme Scheme, ReliabilityBin[] Bins, double Ece);

/// <summary>
/// Calibration of one label's predicted probabilities p = P(finding) against binary targets: the bin's "confidence"
/// is the mean p and its "accuracy" the fraction of positives (the binary reliability diagram). Empty bins are kept with
/// NaN means and count 0 so a plot has a fixed x-axis; they do not enter the ECE.
/// </summary>
public static class Calibration
{
    public static ReliabilityDiagram Reliability(ReadOnlySpan<float> probabilities, ReadOnlySpan<bool> targets, int bins = 10,
        BinScheme scheme = BinScheme.EqualWidth)
    {
        BinaryCurves.CheckLengths(probabilities, targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bins);
        foreach (var p in probabilities)
            if (!(p >= 0 && p <= 1)) throw new ArgumentException($"Probability {p} is outside [0,1].", nameof(probabilities));
        int n = probabilities.Length;
        var binOf = new int[n];
        var lower = new double[bins];
        var upper = new double[bins];
        if (scheme == BinScheme.EqualWidth)
        {
            for (int b = 0; b < bins; b++) { lower[b] = (double)b / bins; upper[b] = (double)(b + 1) / bins; }
            for (int i = 0; i < n; i++) binOf[i] = Math.Min((int)(probabilities[i] * (double)bins), bins - 1);
        }
        else
        {
            // Sorted ascending (stable on ties by index); sample at rank r goes to bin floor(r * M / N), so bin sizes differ
            // by at most one. Tied scores may straddle a boundary; the bin edges then coincide.
            var p = probabilities.ToArray();
            var order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            Array.Sort(order, (a, b) => p[a] != p[b] ? p[a].CompareTo(p[b]) : a.CompareTo(b)); // Array.Sort alone is not stable
            var keys = new float[n];
            for (int r = 0; r < n; r++) keys[r] = p[order[r]];
            for (int r = 0; r < n; r++) binOf[order[r]] = (int)((long)r * bins / n);
            for (int b = 0; b < bins; b++) { lower[b] = double.NaN; upper[b] = double.NaN; }
            for (int r = 0; r < n; r++)
            {
                int b = binOf[order[r]];
                if (double.IsNaN(lower[b])) lower[b] = keys[r];
                upper[b] = keys[r];
            }
        }
        var sumP = new double[bins];
        var positives = new long[bins];
        var count = new long[bins];
        for (int i = 0; i < n; i++)
        {
            int b = binOf[i];
            sumP[b] += probabilities[i];
            count[b]++;
            if (targets[i]) positives[b]++;
        }
        var result = new ReliabilityBin[bins];
        double ece = 0;
        for (int b = 0; b < bins; b++)
        {
            double conf = count[b] == 0 ? double.NaN : sumP[b] / count[b];
            double acc = count[b] == 0 ? double.NaN : (double)positives[b] / count[b];
            result[b] = new ReliabilityBin(lower[b], upper[b], conf, acc, count[b]);
            if (count[b] > 0) ece += (double)count[b] / n * Math.Abs(acc - conf);
        }
        return new ReliabilityDiagram(scheme, result, n == 0 ? double.NaN : ece);
    }

    public static double ExpectedCalibrationError(ReadOnlySpan<float> probabilities, ReadOnlySpan<bool> targets, int bins = 10,
        BinScheme scheme = BinScheme.EqualWidth) => Reliability(probabilities, targets, bins, scheme).Ece;
}
