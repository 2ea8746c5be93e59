using VisionRwkv.Common;
using VisionRwkv.Checkpoints;
using ScottPlot;

namespace VisionRwkv.Training;

/// <summary>PNG plots of a run drawn with ScottPlot (rendered by SkiaSharp); each file is written atomically.</summary>
public static class Plots
{
    /// <summary>loss.png: train and validation loss per epoch.</summary>
    public static void SaveLossCurves(IReadOnlyList<EpochSummary> history, string path)
    {
        ArgumentNullException.ThrowIfNull(history);
        var plot = new Plot();
        AddSeries(plot, history, h => h.TrainLoss, "train loss");
        AddSeries(plot, history, h => h.Metrics.TryGetValue("val_loss", out var v) ? v : null, "val loss");
        plot.Title("Loss");
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.ShowLegend();
        Save(plot, path, 800, 500);
    }

    /// <summary>accuracy.png: the given validation metrics per epoch, in percent.</summary>
    public static void SaveMetricCurves(IReadOnlyList<EpochSummary> history, IReadOnlyList<string> columns, string path)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(columns);
        var plot = new Plot();
        // Fractions (accuracy, AUROC, AP) are drawn in percent so they share one axis.
        foreach (var c in columns)
            AddSeries(plot, history, h => h.Metrics.TryGetValue(c, out var v) ? v * 100 : null, c);
        plot.Title("Validation metrics");
        plot.XLabel("epoch");
        plot.YLabel("%");
        plot.ShowLegend();
        Save(plot, path, 800, 500);
    }

    /// <summary>confusion.png: row-normalised confusion matrix heat map (rows true, columns predicted) with counts.</summary>
    public static void SaveConfusionMatrix(long[][] confusion, IReadOnlyList<string>? classNames, string path)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        int k = confusion.Length;
        var intensities = new double[k, k];
        for (int r = 0; r < k; r++)
        {
            double rowSum = confusion[r].Sum();
            for (int c = 0; c < k; c++)
                intensities[r, c] = rowSum == 0 ? 0 : confusion[r][c] / rowSum;
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(intensities);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Row 0 is drawn at the top; ScottPlot's Extent gives the centres of the corner cells, so cell (r, c) is centred
        // on x = c, y = k - 1 - r (checked by eye on a rendered 3-class matrix).
        if (k > 1)
            heatmap.Extent = new CoordinateRect(0, k - 1, 0, k - 1);
        plot.Add.ColorBar(heatmap);
        if (k <= 30)
        {
            for (int r = 0; r < k; r++)
                for (int c = 0; c < k; c++)
                {
                    var text = plot.Add.Text(confusion[r][c].ToString(System.Globalization.CultureInfo.InvariantCulture), c, k - 1 - r);
                    text.LabelAlignment = Alignment.MiddleCenter;
                    text.LabelFontColor = Colors.Black;
                    text.LabelBackgroundColor = Colors.White.WithAlpha(0.7);
                    text.LabelFontSize = k <= 10 ? 14 : 9;
                }
            var positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
            var names = Enumerable.Range(0, k).Select(i => ClassificationMetrics.Name(classNames, i)).ToArray();
            plot.Axes.Bottom.SetTicks(positions, names);
            plot.Axes.Left.SetTicks(positions.Select(p => k - 1 - p).ToArray(), names);
        }
        plot.Title("Confusion matrix (row-normalised)");
        plot.XLabel("predicted");
        plot.YLabel("true");
        int size = Math.Clamp(200 + 40 * k, 500, 1600);
        Save(plot, path, size + 100, size);
    }

    static void AddSeries(Plot plot, IReadOnlyList<EpochSummary> history, Func<EpochSummary, double?> value, string label)
    {
        var points = history.Where(h => value(h) is { } v && double.IsFinite(v)).ToList();
        if (points.Count == 0) return;
        var scatter = plot.Add.Scatter(points.Select(h => (double)h.Epoch).ToArray(), points.Select(h => value(h)!.Value).ToArray());
        scatter.LegendText = label;
    }

    static void Save(Plot plot, string path, int width, int height)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
