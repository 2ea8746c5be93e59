using VisionRwkv.Datasets.Detection;
using System.CommandLine;
using System.Globalization;
using VisionRwkv.Detection.Runs;
using VisionRwkv.Detection.Training;

namespace VisionRwkv.Cli.Commands.Detect;

/// <summary><c>rwkv detect eval RUN</c>: the 12 COCO numbers on a split, with the results JSON they were computed from.</summary>
internal static class DetectEvalCommand
{
    public static Command Create()
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "Run folder written by 'rwkv detect train'." };
        var data = new Option<string?>("--data", "-d") { Description = "Data to evaluate (default: the run's own)." };
        var split = new Option<string>("--split") { Description = "test, val or train.", DefaultValueFactory = _ => "test" };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Weights file (default: the run's best)." };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Folder for coco_metrics.json and coco_results.json (default: RUN/eval-SPLIT)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto.", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Batch size.", DefaultValueFactory = _ => 32 };
        var imgSize = new Option<int?>("--img-size") { Description = "Input side to letterbox to (default: the run's test_img_size, else its training size); larger finds small objects better." };
        var command = new Command("eval", "COCO evaluation (AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l) of a trained detector; writes coco_metrics.json and the COCO results JSON it scored.")
        {
            run, data, split, checkpoint, output, device, batch, imgSize,
        };
        command.SetAction(parse =>
        {
            try
            {
                var dir = parse.GetValue(run)!.FullName;
                var s = parse.GetValue(split)!;
                using var detector = TrainedDetector.Open(dir, parse.GetValue(checkpoint)?.FullName, parse.GetValue(device)!);
                var r = detector.Evaluate(s, parse.GetValue(data), parse.GetValue(batch), imgSize: parse.GetValue(imgSize));
                var outDir = parse.GetValue(output)?.FullName ?? Path.Combine(dir, "eval-" + s);
                Directory.CreateDirectory(outDir);
                var resultsPath = Path.Combine(outDir, "coco_results.json");
                CocoJson.WriteResults(resultsPath, r.Results);
                var metricsPath = Path.Combine(outDir, "coco_metrics.json");
                DetectionFiles.WriteMetrics(metricsPath, r, resultsPath);
                Console.WriteLine($"weights {detector.Weights}, {r.Images} images letterboxed to {r.InputWidth}x{r.InputHeight}, {r.Results.Count} detections");
                Console.Write(r.Metrics.Summary());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"AP {r.Metrics.AP:F4}  AP50 {r.Metrics.AP50:F4}  AP75 {r.Metrics.AP75:F4}"));
                Console.WriteLine($"ground truth: {r.GroundTruthPath ?? "(built from the data set)"}");
                Console.WriteLine($"results:      {resultsPath}");
                Console.WriteLine($"metrics:      {metricsPath}");
                return 0;
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return CommandErrors.Fail("detect eval", e.Message);
            }
        });
        return command;
    }
}
