using System.CommandLine;
using VisionRwkv.Datasets.Detection;
using VisionRwkv.Detection;
using VisionRwkv.Detection.Runs;
using VisionRwkv.Detection.Training;

namespace VisionRwkv.Cli.Commands.Detect;

/// <summary><c>rwkv detect predict RUN IMAGE...</c>: COCO results JSON and PNGs with the boxes drawn.</summary>
internal static class DetectPredictCommand
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".dcm"];

    public static Command Create()
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "Run folder written by 'rwkv detect train'." };
        var inputs = new Argument<string[]>("images") { Description = "Image files or folders (searched recursively).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Folder for results.json and the drawn PNGs (must not already hold results.json).", DefaultValueFactory = _ => new DirectoryInfo("detections") };
        var minScore = new Option<double>("--draw-threshold") { Description = "Draw boxes scoring at least this (results.json keeps every detection).", DefaultValueFactory = _ => 0.5 };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Weights file (default: the run's best)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto.", DefaultValueFactory = _ => "auto" };
        var imgSize = new Option<int?>("--img-size") { Description = "Input side to letterbox to (default: the run's test_img_size, else its training size); larger finds small objects better." };
        var command = new Command("predict", "Detect objects in images: COCO results JSON (image ids follow the listed order, file names in images.json) and one PNG per image with boxes and labels.")
        {
            run, inputs, output, minScore, checkpoint, device, imgSize,
        };
        command.SetAction(parse =>
        {
            try
            {
                var files = Expand(parse.GetValue(inputs)!);
                if (files.Count == 0)
                    return CommandErrors.Fail("detect predict", "no image files found");
                var outDir = parse.GetValue(output)!.FullName;
                var resultsPath = Path.Combine(outDir, "results.json");
                if (File.Exists(resultsPath))
                    return CommandErrors.Fail("detect predict", $"{resultsPath} exists; not overwriting it (choose another --output)");
                Directory.CreateDirectory(outDir);
                using var detector = TrainedDetector.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName, parse.GetValue(device)!);
                var results = detector.Predict(files, out var skipped, imgSize: parse.GetValue(imgSize));
                CocoJson.WriteResults(resultsPath, results);
                var images = new ImageFilesDetectionDataset(files, detector.Categories).ToCoco();
                CocoJson.Write(Path.Combine(outDir, "images.json"), images with { Images = [.. files.Select((f, i) => new CocoImage(i + 1, Path.GetFullPath(f), 0, 0))] }, indented: true);
                var byImage = results.ToLookup(r => r.ImageId);
                var skippedNames = skipped.Select(s => s.Name).ToHashSet();
                var used = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < files.Count; i++)
                {
                    if (skippedNames.Contains(files[i]))
                        continue;
                    var name = Path.GetFileNameWithoutExtension(files[i]);
                    var png = Path.Combine(outDir, name + ".detections.png");
                    for (var k = 2; !used.Add(png); k++)
                        png = Path.Combine(outDir, $"{name}-{k}.detections.png");
                    DetectionDrawing.Draw(files[i], byImage[i + 1], detector.Categories, png, parse.GetValue(minScore));
                }
                foreach (var s in skipped)
                    Console.Error.WriteLine($"skipped {s.Name}: {s.Reason}");
                Console.WriteLine($"{results.Count} detections in {files.Count - skipped.Count} images ({results.Count(r => r.Score >= parse.GetValue(minScore))} drawn); results: {resultsPath}");
                return skipped.Count > 0 ? 2 : 0;
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return CommandErrors.Fail("detect predict", e.Message);
            }
        });
        return command;
    }

    private static List<string> Expand(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
                files.AddRange(Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
            else if (File.Exists(input))
                files.Add(input);
            else
                throw new FileNotFoundException($"{input}: no such file or folder");
        }
        return files;
    }
}
