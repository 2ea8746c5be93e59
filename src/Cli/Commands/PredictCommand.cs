using VisionRwkv.Common;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VisionRwkv.Checkpoints;
using VisionRwkv.Cli.Training;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Training;

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
            using var trained = TrainedModel.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName);
            var files = new List<string>();
            foreach (var input in parse.GetValue(inputs)!)
            {
                if (Directory.Exists(input))
                {
                    var found = ImageFilesDataset.Scan(input);
                    files.AddRange(Enumerable.Range(0, found.Count).Select(found.NameOf));
                }
                else if (File.Exists(input)) files.Add(Path.GetFullPath(input));
                else throw new FileNotFoundException($"{input}: no such file or folder");
            }
            var dataset = new ImageFilesDataset(files);
            var loader = new DataLoader(dataset, ImagePipeline.Eval(DataSetup.ToImageDataConfig(trained.Data)), new LoaderOptions
            {
                BatchSize = parse.GetValue(batch),
                Threads = trained.Spec.LoaderThreads,
            });
            int k = Math.Min(parse.GetValue(topK), trained.Classes.Count);
            var rows = new List<(string File, TopKPrediction[] Top)>();
            foreach (var b in loader.Epoch(0))
            {
                using (b)
                {
                    var preds = Evaluator.PredictTopK(trained.Model, b.Images, k, trained.Spec.Train.MultiLabel);
                    for (int i = 0; i < preds.Length; i++)
                        rows.Add((dataset.NameOf(b.Indices[i]), preds[i]));
                }
            }
            string text = outFile is not null && outFile.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
                ? Jsonl(rows, trained.Classes)
                : Csv(rows, trained.Classes, k);
            if (outFile is null) Console.Write(text);
            else
            {
                AtomicFile.WriteText(outFile.FullName, text);
                Console.WriteLine($"{rows.Count} predictions written to {outFile.FullName}");
            }
            foreach (var s in loader.Skipped)
                Console.Error.WriteLine($"skipped {s.Name}: {s.Reason}");
            return loader.Skipped.Count == 0 ? 0 : 2;
        });
        return command;
    }

    private static string Csv(List<(string File, TopKPrediction[] Top)> rows, ClassMap classes, int k)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("file");
        for (int i = 1; i <= k; i++) sb.Append(inv, $",label_{i},prob_{i}");
        sb.Append('\n');
        foreach (var (file, top) in rows)
        {
            sb.Append(Quote(file));
            foreach (var p in top) sb.Append(inv, $",{Quote(classes[p.ClassIndex])},{p.Probability:F5}");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Jsonl(List<(string File, TopKPrediction[] Top)> rows, ClassMap classes)
    {
        var sb = new StringBuilder();
        foreach (var (file, top) in rows)
            sb.Append(JsonSerializer.Serialize(new { file, predictions = top.Select(p => new { label = classes[p.ClassIndex], prob = Math.Round(p.Probability, 5) }) })).Append('\n');
        return sb.ToString();
    }

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
