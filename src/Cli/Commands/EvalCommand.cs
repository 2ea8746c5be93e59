using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VisionRwkv.Runs;
using VisionRwkv.Training;
using VisionRwkv.Datasets;
using VisionRwkv.Medical;

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
        var output = new Option<DirectoryInfo?>("--out") { Description = "Multi-label runs: folder for predictions.csv, report.json and report.html (default: the run folder)." };
        var resamples = new Option<int>("--resamples") { Description = "Multi-label runs: patient bootstrap resamples for the 95% intervals.", DefaultValueFactory = _ => 2000 };
        var command = new Command("eval", "Evaluate a trained model: top-1/top-5, per-class precision/recall/F1, confusion matrix; for multi-label runs "
            + "AUROC/AP with patient-bootstrap CIs, operating points chosen on validation, calibration, and a report (predictions.csv, report.json, report.html).")
        {
            run, data, split, checkpoint, ema, png, batch, output, resamples,
        };
        command.SetAction(parse =>
        {
            using var trained = TrainedClassifier.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName, parse.GetValue(ema));
            if (trained.MultiLabel)
            {
                var result = TriageEvaluation.Run(trained, parse.GetValue(run)!.FullName, new TriageOptions
                {
                    Data = parse.GetValue(data),
                    OutputDirectory = parse.GetValue(output)?.FullName,
                    BatchSize = parse.GetValue(batch),
                    Evaluation = new MedicalEvaluationOptions { BootstrapResamples = parse.GetValue(resamples) },
                });
                PrintTriage(result, trained.Weights);
                return 0;
            }
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

    /// <summary>
    /// A Spectre console on the current Console.Out: the static AnsiConsole keeps the writer it first saw, which is stale
    /// when Console.Out is redirected later in the same process (in-process command runs, tests).
    /// </summary>
    private static IAnsiConsole Out() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    // Spectre reads [...] as markup: the interval's brackets are escaped by doubling.
    private static string Ci(BootstrapInterval ci) =>
        double.IsNaN(ci.Point) ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{ci.Point:F3} [[{ci.Lower:F3}, {ci.Upper:F3}]]");

    private static string F(double v, string format = "F3") => double.IsNaN(v) ? "n/a" : v.ToString(format, CultureInfo.InvariantCulture);

    private static void PrintTriage(TriageResult result, string weights)
    {
        var r = result.Report;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"weights {weights}; validation {result.Validation.Count} images, test {r.TestImages} images of {r.TestPatients} patients"));
        Console.WriteLine(string.Create(inv, $"95% CIs: {r.Options.BootstrapResamples} bootstrap resamples of test patients; thresholds and temperatures fitted on validation"));
        var t = new Table().AddColumns("label", "pos", "neg", "AUROC [[95% CI]]", "AP [[95% CI]]");
        foreach (var l in r.Labels)
            t.AddRow(Markup.Escape(l.Label), l.Positives.ToString(inv), l.Negatives.ToString(inv), Ci(l.Auroc), Ci(l.AveragePrecision));
        t.AddRow("macro", "", "", Ci(r.MacroAuroc), Ci(r.MacroAveragePrecision));
        Out().Write(t);
        // Plain fixed-width lines: twelve columns do not fit a Spectre table in an 80-column terminal or a log file.
        Console.WriteLine("operating points on test (thresholds chosen on validation; confusion counts at each threshold)");
        int lw = Math.Max(7, r.Labels.Max(l => l.Label.Length) + 2);
        Console.WriteLine("label".PadRight(lw) + $"{"rule",-18}{"threshold",10}{"sens",7}{"spec",7}{"PPV",7}{"NPV",7}{"F1",7}{"TP",6}{"FP",6}{"TN",6}{"FN",6}");
        foreach (var l in r.Labels)
            foreach (var p in l.OperatingPoints)
                Console.WriteLine(l.Label.PadRight(lw) + string.Create(inv, $"{p.Rule,-18}{F(p.Threshold, "F4"),10}{F(p.Test.Sensitivity),7}{F(p.Test.Specificity),7}{F(p.Test.Ppv),7}{F(p.Test.Npv),7}{F(p.Test.F1),7}")
                    + string.Create(inv, $"{p.Test.TruePositives,6}{p.Test.FalsePositives,6}{p.Test.TrueNegatives,6}{p.Test.FalseNegatives,6}"));
        var cal = new Table { Title = new TableTitle("calibration on test: ECE before -> after temperature scaling") }
            .AddColumns("label", "temperature", "ECE equal-width", "ECE equal-mass");
        foreach (var l in r.Labels)
        {
            var c = l.Calibration;
            cal.AddRow(Markup.Escape(l.Label), F(c.Temperature), $"{F(c.EqualWidthBefore.Ece, "F4")} -> {F(c.EqualWidthAfter.Ece, "F4")}",
                $"{F(c.EqualMassBefore.Ece, "F4")} -> {F(c.EqualMassAfter.Ece, "F4")}");
        }
        Out().Write(cal);
        if (result.Skipped.Count > 0) Console.WriteLine($"skipped {result.Skipped.Count} unreadable images (first: {result.Skipped[0].Name}: {result.Skipped[0].Reason})");
        Console.WriteLine($"predictions: {result.Files.Predictions}");
        Console.WriteLine($"report:      {result.Files.Html}");
        Console.WriteLine($"numbers:     {result.Files.Json}");
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
            Out().Write(t);
            Console.WriteLine(string.Create(inv, $"macro AUROC {ml.MacroAuroc:F4}  micro AUROC {ml.MicroAuroc:F4}  macro AP {ml.MacroAveragePrecision:F4}  micro AP {ml.MicroAveragePrecision:F4}"));
            return;
        }
        var table = new Table().AddColumns("class", "precision", "recall", "F1", "support");
        for (int i = 0; i < r.PerClass.Count; i++)
        {
            var c = r.PerClass[i];
            table.AddRow(Markup.Escape(i < names.Count ? names[i] : i.ToString(inv)), c.Precision.ToString("F4", inv), c.Recall.ToString("F4", inv), c.F1.ToString("F4", inv), c.Support.ToString(inv));
        }
        Out().Write(table);
        if (r.ConfusionMatrix is { } cm)
        {
            var t = new Table { Title = new TableTitle("confusion matrix (rows: true, columns: predicted)") };
            t.AddColumn("");
            for (int j = 0; j < cm.Length; j++) t.AddColumn(j.ToString(inv));
            for (int i = 0; i < cm.Length; i++)
                t.AddRow([Markup.Escape($"{i} {(i < names.Count ? names[i] : "")}"), .. cm[i].Select(v => v.ToString(inv))]);
            Out().Write(t);
        }
        Console.WriteLine(string.Create(inv, $"top-1 {r.Top1 * 100:F2}%  top-5 {r.Top5 * 100:F2}%  loss {r.Loss:F4}  macro F1 {r.MacroF1:F4}"));
    }
}
