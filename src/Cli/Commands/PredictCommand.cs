using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Runs;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv predict RUN_DIR INPUT...</c>: top-k labels with probabilities for image files and folders.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "Run folder written by 'rwkv train'." };
        var inputs = new Argument<string[]>("inputs") { Description = "Image files and/or folders (searched recursively).", Arity = ArgumentArity.OneOrMore };
        var topK = new Option<int>("--top-k", "-k") { Description = "Labels per image.", DefaultValueFactory = _ => 5 };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write results to a .csv or .jsonl file (default: print CSV)." };
        var force = new Option<bool>("--force") { Description = "Overwrite --output if it exists." };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Weights file (default: the run's best)." };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var command = new Command("predict", "Predict the top-k labels of images with a trained model; unreadable files are reported and skipped.")
        {
            run, inputs, topK, output, force, checkpoint, batch,
        };
        command.SetAction(parse =>
        {
            var outFile = parse.GetValue(output);
            if (outFile is { Exists: true } && !parse.GetValue(force))
                throw new IOException($"{outFile.FullName} exists; pass --force to overwrite it");
            using var trained = TrainedClassifier.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName);
            var result = trained.Predict(parse.GetValue(inputs)!, parse.GetValue(topK), parse.GetValue(batch));
            string text = outFile is not null && outFile.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
                ? Jsonl(result.Predictions)
                : Csv(result.Predictions, Math.Min(parse.GetValue(topK), trained.Classes.Count));
            if (outFile is null) Console.Write(text);
            else
            {
                AtomicFile.WriteText(outFile.FullName, text);
                Console.WriteLine($"{result.Predictions.Count} predictions written to {outFile.FullName}");
            }
            foreach (var s in result.Skipped)
                Console.Error.WriteLine($"skipped {s.Name}: {s.Reason}");
            return result.Skipped.Count == 0 ? 0 : 2;
        });
        return command;
    }

    private static string Csv(IReadOnlyList<Prediction> rows, int k)
    {
        var inv = CultureInfo.InvariantCulture;
        var header = new List<string> { "file" };
        for (int i = 1; i <= k; i++) header.AddRange([$"label_{i}", $"prob_{i}"]);
        return CsvFiles.ToText(header, rows.Select(r => (IReadOnlyList<string?>)[
            r.File, .. r.Labels.SelectMany((l, i) => new[] { l, r.Probabilities[i].ToString("F5", inv) })]));
    }

    private static string Jsonl(IReadOnlyList<Prediction> rows)
    {
        var sb = new StringBuilder();
        foreach (var r in rows)
            sb.Append(JsonSerializer.Serialize(new { file = r.File, predictions = r.Labels.Select((l, i) => new { label = l, prob = Math.Round(r.Probabilities[i], 5) }) })).Append('\n');
        return sb.ToString();
    }
}
