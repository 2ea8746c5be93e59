namespace VisionRwkv.Benchmarks;

/// <summary>One model against a baseline at one resolution: throughput and memory ratios.</summary>
/// <param name="Res">Square resolution in pixels.</param>
/// <param name="Tokens">Tokens of the model at that resolution.</param>
/// <param name="SpeedRatio">Images/s of the model over images/s of the baseline (above 1: the model is faster).</param>
/// <param name="MemoryRatio">Peak memory of the model over the baseline's (below 1: the model needs less).</param>
public sealed record ResolutionComparison(int Res, long Tokens, double SpeedRatio, double? MemoryRatio);

/// <summary>A model against a baseline over the measured resolutions.</summary>
/// <param name="Model">The model compared.</param>
/// <param name="Baseline">The model it is compared against.</param>
/// <param name="Rows">Resolutions where both ran, ascending.</param>
/// <param name="OvertakesAt">
/// The smallest measured resolution from which on the model is faster at every larger measured resolution; null if it
/// is not faster at the largest one.
/// </param>
public sealed record BenchComparison(string Model, string Baseline, IReadOnlyList<ResolutionComparison> Rows, int? OvertakesAt)
{
    /// <summary>Pairs the successful records of <paramref name="model"/> and <paramref name="baseline"/> by resolution.</summary>
    public static BenchComparison Compare(IEnumerable<BenchRecord> records, string model, string baseline)
    {
        ArgumentNullException.ThrowIfNull(records);
        var ok = records.Where(r => r.ImgPerS is > 0).ToList();
        var rows = new List<ResolutionComparison>();
        foreach (var m in ok.Where(r => r.Model == model).OrderBy(r => r.Res))
        {
            var b = ok.FirstOrDefault(r => r.Model == baseline && r.Res == m.Res);
            if (b is null) continue;
            double? mem = m.PeakMemMb is double mm && b.PeakMemMb is double bm && bm > 0 ? mm / bm : null;
            rows.Add(new ResolutionComparison(m.Res, m.Tokens, m.ImgPerS!.Value / b.ImgPerS!.Value, mem));
        }
        int? overtakes = null;
        for (int i = rows.Count - 1; i >= 0 && rows[i].SpeedRatio > 1; i--)
            overtakes = rows[i].Res;
        return new BenchComparison(model, baseline, rows, overtakes);
    }
}
