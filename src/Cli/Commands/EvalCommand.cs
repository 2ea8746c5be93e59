using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VisionRwkv.Runs;
using VisionRwkv.Training;
using VisionRwkv.Datasets;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv eval RUN_DIR</c>: accuracy, per-class metrics and the confusion matrix of a trained model.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "Run folder written by 'rwkv train'." };
        var data = new Option<string?>("--data", "-d") { Description = "Data to evaluate (default: the run's own data)." };
        var split = new Option<string>("--split") { Description = "test or val.", DefaultValueFactory = _ => "test" };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Weights file (default: the run's best)." };
        var ema = new Option<bool>("--ema") { Description = "Evaluate the EMA weights." };
        var png = new Option<FileInfo?>("--confusion-png") { Description = "Write the confusion matrix as a PNG." };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Batch size.", DefaultValueFactory = _ => 256 };
        var command = new Command("eval", "Evaluate a trained model: top-1/top-5, per-class precision/recall/F1, confusion matrix; AUROC/AP for multi-label.")
        {
            run, data, split, checkpoint, ema, png, batch,
        };
        command.SetAction(parse =>
        {
            using var trained = TrainedClassifier.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName, parse.GetValue(ema));
            var report = trained.Evaluate(parse.GetValue(split)!, parse.GetValue(data), parse.GetValue(batch));
            Print(report, trained.Classes.Names, trained.Weights);
            if (parse.GetValue(png) is { } file && report.ConfusionMatrix is { } cm)
            {
                Plots.SaveConfusionMatrix(cm, trained.Classes.Names, file.FullName);
                Console.WriteLine($"confusion matrix: {file.FullName}");
            }
            return 0;
        });
        return command;
    }

    private static void Print(EvaluationReport r, IReadOnlyList<string> names, string weights)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"weights {weights}, {r.Samples} images");
        if (r.MultiLabel && r.MultiLabelMetrics is { } ml)
        {
            var t = new Table().AddColumns("label", "AUROC", "AP");
            for (int i = 0; i < names.Count && i < ml.Auroc.Length; i++)
                t.AddRow(Markup.Escape(names[i]), ml.Auroc[i].ToString("F4", inv), ml.AveragePrecision[i].ToString("F4", inv));
            AnsiConsole.Write(t);
            Console.WriteLine(string.Create(inv, $"macro AUROC {ml.MacroAuroc:F4}  micro AUROC {ml.MicroAuroc:F4}  macro AP {ml.MacroAveragePrecision:F4}  micro AP {ml.MicroAveragePrecision:F4}"));
            return;
        }
        var table = new Table().AddColumns("class", "precision", "recall", "F1", "support");
        for (int i = 0; i < r.PerClass.Count; i++)
        {
            var c = r.PerClass[i];
            table.AddRow(Markup.Escape(i < names.Count ? names[i] : i.ToString(inv)), c.Precision.ToString("F4", inv), c.Recall.ToString("F4", inv), c.F1.ToString("F4", inv), c.Support.ToString(inv));
        }
        AnsiConsole.Write(table);
        if (r.ConfusionMatrix is { } cm)
        {
            var t = new Table { Title = new TableTitle("confusion matrix (rows: true, columns: predicted)") };
            t.AddColumn("");
            for (int j = 0; j < cm.Length; j++) t.AddColumn(j.ToString(inv));
            for (int i = 0; i < cm.Length; i++)
                t.AddRow([Markup.Escape($"{i} {(i < names.Count ? names[i] : "")}"), .. cm[i].Select(v => v.ToString(inv))]);
            AnsiConsole.Write(t);
        }
        Console.WriteLine(string.Create(inv, $"top-1 {r.Top1 * 100:F2}%  top-5 {r.Top5 * 100:F2}%  loss {r.Loss:F4}  macro F1 {r.MacroF1:F4}"));
    }
}
