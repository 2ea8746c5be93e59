using System.Globalization;
using System.Text.Json;
using VisionRwkv.Common;

namespace VisionRwkv.Training;

/// <summary>
/// The files of a training run: config.json and classes.json, checkpoints (last, best, the N best epochs),
/// summary.csv (one row per epoch), metrics.json, and the plots. Every write is atomic, so a run killed at any moment
/// leaves complete files behind.
/// </summary>
public sealed class RunFolder
{
    /// <summary>Opens (creating it when needed) the run folder at <paramref name="path"/>.</summary>
    public RunFolder(string path, bool writePlots = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        WritePlots = writePlots;
        Directory.CreateDirectory(Path);
    }

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>Whether PNG plots are drawn.</summary>
    public bool WritePlots { get; }

    /// <summary>The path of a file in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>The path of checkpoint <paramref name="name"/> (last, best, epoch-0003).</summary>
    public string Checkpoint(string name) => File(name + ".safetensors");

    /// <summary>The checkpoint name of an epoch: epoch-0007.</summary>
    public static string EpochName(int epoch) => "epoch-" + epoch.ToString("D4", CultureInfo.InvariantCulture);

    public void WriteText(string name, string text) => AtomicFile.WriteText(File(name), text);

    public void WriteJson(string name, object? value) => AtomicFile.WriteText(File(name), JsonSerializer.Serialize(value, ConfigFile.Json));

    public void WriteCsv(string name, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string?>> rows) =>
        CsvFiles.Write(File(name), header, rows);

    /// <summary>
    /// After epoch <paramref name="epoch"/> wrote last.safetensors: copies it to best when <paramref name="isBest"/>, and
    /// keeps the <paramref name="keep"/> best epochs by <paramref name="metric"/> as epoch-NNNN files (the latest ones
    /// when the metric is never measured), deleting the rest, like timm's checkpoint-hist.
    /// </summary>
    public void RotateCheckpoints(IReadOnlyList<EpochSummary> history, int epoch, bool isBest, string metric, int keep)
    {
        ArgumentNullException.ThrowIfNull(history);
        var last = Checkpoint("last");
        if (isBest)
            AtomicFile.Copy(last, Checkpoint("best"));
        if (keep <= 0) return;
        bool higher = MetricNames.HigherIsBetter(metric);
        var ranked = history
            .OrderBy(h => h.Metrics.TryGetValue(metric, out var v) ? (higher ? -v : v) : 0.0)
            .ThenByDescending(h => h.Epoch)
            .Take(keep)
            .Select(h => h.Epoch)
            .ToHashSet();
        if (ranked.Contains(epoch))
            AtomicFile.Copy(last, Checkpoint(EpochName(epoch)));
        foreach (var h in history)
        {
            var path = Checkpoint(EpochName(h.Epoch));
            if (!ranked.Contains(h.Epoch) && System.IO.File.Exists(path)) System.IO.File.Delete(path);
        }
    }

    /// <summary>summary.csv: epoch, train_loss, the given metric columns (blank where not measured), lr, seconds.</summary>
    public void WriteSummary(IReadOnlyList<EpochSummary> history, IReadOnlyList<string> metricColumns)
    {
        ArgumentNullException.ThrowIfNull(history);
        static string F(double? v) => v is { } d ? d.ToString("G9", CultureInfo.InvariantCulture) : "";
        WriteCsv("summary.csv", ["epoch", "train_loss", .. metricColumns, "lr", "seconds"],
            history.Select(h => (IReadOnlyList<string?>)[
                h.Epoch.ToString(CultureInfo.InvariantCulture), F(h.TrainLoss),
                .. metricColumns.Select(c => F(h.Metrics.TryGetValue(c, out var v) ? v : null)),
                F(h.LearningRate), F(h.Seconds)]));
    }

    /// <summary>loss.png and metrics.png: training and validation loss, and every other column, per epoch.</summary>
    public void Plot(IReadOnlyList<EpochSummary> history, IReadOnlyList<string> metricColumns)
    {
        if (!WritePlots) return;
        Plots.SaveLossCurves(history, File("loss.png"));
        Plots.SaveMetricCurves(history, metricColumns.Where(c => !c.EndsWith("loss", StringComparison.Ordinal)).ToList(), File("accuracy.png"));
    }
}
