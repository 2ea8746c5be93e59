using VisionRwkv.Common;

namespace VisionRwkv.Medical;

/// <summary>A percentile bootstrap interval around a point estimate.</summary>
/// <param name="Point">The statistic on the full sample.</param>
/// <param name="Lower">The (1-level)/2 percentile of the resampled statistics.</param>
/// <param name="Upper">The (1+level)/2 percentile of the resampled statistics.</param>
/// <param name="Level">The coverage, e.g. 0.95.</param>
/// <param name="Resamples">Resamples drawn.</param>
/// <param name="Undefined">Resamples on which the statistic was NaN (e.g. no positive patient drawn); left out of the percentiles.</param>
public sealed record BootstrapInterval(double Point, double Lower, double Upper, double Level, int Resamples, int Undefined);

/// <summary>
/// Bootstrap resampling by patient: a resample draws patients with replacement and takes every image of each drawn
/// patient, so images of one patient (correlated: same anatomy, often the same finding) never count as independent
/// evidence. Seeded through <see cref="SeededRng"/>, so an interval is the same on every machine.
/// </summary>
public sealed class PatientBootstrap
{
    readonly int[][] imagesOfPatient;

    /// <param name="patientIds">The patient of each image, in image order.</param>
    public PatientBootstrap(IReadOnlyList<string> patientIds)
    {
        ArgumentNullException.ThrowIfNull(patientIds);
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<List<int>>();
        for (int i = 0; i < patientIds.Count; i++)
        {
            var id = patientIds[i] ?? throw new ArgumentException($"Image {i} has no patient id.", nameof(patientIds));
            if (!groups.TryGetValue(id, out var list))
            {
                groups[id] = list = [];
                order.Add(list); // first-appearance order: the resamples do not depend on dictionary order
            }
            list.Add(i);
        }
        imagesOfPatient = [.. order.Select(l => l.ToArray())];
        ImageCount = patientIds.Count;
    }

    public int PatientCount => imagesOfPatient.Length;

    public int ImageCount { get; }

    /// <summary>One resample: the image indices of <see cref="PatientCount"/> patients drawn with replacement.</summary>
    public int[] Resample(SeededRng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var indices = new List<int>(ImageCount);
        for (int p = 0; p < imagesOfPatient.Length; p++)
            indices.AddRange(imagesOfPatient[rng.NextInt(imagesOfPatient.Length)]);
        return [.. indices];
    }

    /// <summary>
    /// Percentile interval of <paramref name="statistic"/>, evaluated on the identity sample for the point estimate and on
    /// <paramref name="resamples"/> patient resamples. Percentiles interpolate linearly between order statistics (numpy's
    /// default). When every resample is undefined the bounds are NaN.
    /// </summary>
    public BootstrapInterval Interval(Func<int[], double> statistic, int resamples = 2000, ulong seed = 0, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(statistic);
        return Intervals(idx => [statistic(idx)], resamples, seed, level)[0];
    }

    /// <summary>
    /// Intervals of several statistics computed on the same resamples (paired: e.g. every label's AUROC and the macro
    /// mean from one draw of patients). <paramref name="statistics"/> returns the same number of values on every call.
    /// </summary>
    public BootstrapInterval[] Intervals(Func<int[], double[]> statistics, int resamples = 2000, ulong seed = 0, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(resamples);
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), $"Level {level} is outside (0,1).");
        var all = new int[ImageCount];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        double[] point = statistics(all);
        var rng = new SeededRng(seed);
        var values = point.Select(_ => new List<double>(resamples)).ToArray();
        var undefined = new int[point.Length];
        for (int b = 0; b < resamples; b++)
        {
            var v = statistics(Resample(rng));
            if (v.Length != point.Length) throw new InvalidOperationException($"The statistics returned {v.Length} values, then {point.Length}.");
            for (int s = 0; s < v.Length; s++)
                if (double.IsNaN(v[s])) undefined[s]++; else values[s].Add(v[s]);
        }
        double alpha = (1 - level) / 2;
        var result = new BootstrapInterval[point.Length];
        for (int s = 0; s < point.Length; s++)
        {
            values[s].Sort();
            result[s] = new BootstrapInterval(point[s], Percentile(values[s], alpha), Percentile(values[s], 1 - alpha), level, resamples, undefined[s]);
        }
        return result;
    }

    /// <summary>Linear interpolation between the order statistics of a sorted list, q in [0,1].</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0) return double.NaN;
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
