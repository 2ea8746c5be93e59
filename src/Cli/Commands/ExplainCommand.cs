using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Explain;
using VisionRwkv.Models;
using VisionRwkv.Runs;

namespace VisionRwkv.Cli.Commands;

/// <summary>
/// <c>rwkv explain RUN IMAGE...</c>: saliency overlays (Grad-CAM, the WKV map, occlusion) for a trained model, and
/// <c>--pointing-game BOXES.csv</c>: the share of maps that peak inside known evidence boxes.
/// </summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "Run folder written by 'rwkv train'." };
        var images = new Argument<string[]>("images") { Description = "Image files to explain.", Arity = ArgumentArity.ZeroOrMore };
        var label = new Option<string?>("--label", "-l") { Description = "Label to explain: a class name or logit index (default: each image's top predicted label)." };
        var method = new Option<string>("--method", "-m")
        {
            Description = "gradcam, wkv (Vision-RWKV only), occlusion or all (every method the model supports).",
            DefaultValueFactory = _ => "all",
        };
        var output = new Option<DirectoryInfo>("--out", "-o")
        {
            Description = "Folder for the PNG overlays (IMAGE.LABEL.METHOD.png) and pointing-game.json. Existing files are never "
                + "replaced: a new file whose name is taken gets a -1, -2, ... suffix.",
            DefaultValueFactory = _ => new DirectoryInfo("explain"),
        };
        var boxes = new Option<FileInfo?>("--pointing-game")
        {
            Description = "CSV with header image,label,x0,y0,x1,y1 (paths relative to the CSV, label name or index, half-open box in "
                + "original-image pixels): prints and writes the share of maps whose peak falls in the box, per method.",
        };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "Weights file (default: the run's best)." };
        var ema = new Option<bool>("--ema") { Description = "Use the EMA weights." };
        var window = new Option<int?>("--occlusion-window") { Description = "Occlusion window side in pixels (default: the patch size)." };
        var stride = new Option<int?>("--occlusion-stride") { Description = "Occlusion stride in pixels (default: half the window)." };
        var gradcamBlock = new Option<int?>("--gradcam-block") { Description = "Block whose normalised input Grad-CAM reads: -1 (the default) is the last, 0 the first." };
        var gradcamWeighting = new Option<string?>("--gradcam-weighting")
        {
            Description = "element (default: each token weighed by its own gradient, HiResCAM) or channel (gradients averaged over tokens, Selvaraju's Grad-CAM).",
        };
        var gradcamSign = new Option<string?>("--gradcam-sign") { Description = "magnitude (default: |gradient x activation|) or positive (ReLU, Grad-CAM's original convention)." };
        var gradcamNoRollout = new Option<bool>("--gradcam-no-rollout")
        {
            Description = "Vision-RWKV: the Grad-CAM map of the tokens entering the target block as it is, not carried back through the earlier blocks' Bi-WKV.",
        };
        var gradcamClassic = new Option<bool>("--gradcam-classic")
        {
            Description = "Grad-CAM as pytorch-grad-cam applies it to ViTs: channel weights, ReLU, the last block, no rollout (the other --gradcam-* options still apply on top).",
        };
        var lastBlockOnly = new Option<bool>("--wkv-last-block") { Description = "WKV map of the last block's shares alone, without rolling them back through the earlier blocks." };
        var command = new Command("explain", "Saliency maps of a trained classifier as PNG overlays, or the pointing game on evidence boxes.")
        {
            run, images, label, method, output, boxes, checkpoint, ema, window, stride, gradcamBlock, gradcamWeighting, gradcamSign, gradcamNoRollout, gradcamClassic, lastBlockOnly,
        };
        command.SetAction(parse =>
        {
            using var trained = TrainedClassifier.Open(parse.GetValue(run)!.FullName, parse.GetValue(checkpoint)?.FullName, parse.GetValue(ema));
            var model = (IImageClassifier)trained.Model;
            var methods = Methods(parse.GetValue(method)!, model);
            var options = new SaliencyOptions
            {
                MultiLabel = trained.MultiLabel,
                OcclusionWindow = parse.GetValue(window),
                OcclusionStride = parse.GetValue(stride),
                WkvRollout = !parse.GetValue(lastBlockOnly),
            };
            if (parse.GetValue(gradcamClassic)) options = options.ClassicGradCam();
            if (parse.GetValue(gradcamBlock) is int block) options = options with { GradCamBlock = block };
            if (parse.GetValue(gradcamNoRollout)) options = options with { GradCamRollout = false };
            if (parse.GetValue(gradcamWeighting) is { } weighting)
                options = options with { GradCamWeighting = Choice<GradCamWeighting>("--gradcam-weighting", weighting) };
            if (parse.GetValue(gradcamSign) is { } sign)
                options = options with { GradCamSign = Choice<GradCamSign>("--gradcam-sign", sign) };
            var outFolder = parse.GetValue(output)!.FullName;
            var files = parse.GetValue(images) ?? [];
            if (parse.GetValue(boxes) is { } csv)
            {
                if (files.Length > 0) throw new ArgumentException("give images or --pointing-game, not both");
                return PointingGameMain(model, trained, csv.FullName, methods, options, outFolder);
            }
            if (files.Length == 0) throw new ArgumentException("no images: give image files, or --pointing-game BOXES.csv");
            int? target = parse.GetValue(label) is { } l ? LabelIndex(l, trained) : null;
            var result = ExplainJob.Run(model, trained.Classes, files, target, methods, outFolder, options, Console.WriteLine);
            foreach (var s in result.Skipped) Console.Error.WriteLine($"skipped {s}");
            return result.Skipped.Count == 0 ? 0 : 2;
        });
        return command;
    }

    private static int PointingGameMain(IImageClassifier model, TrainedClassifier trained, string csv,
        IReadOnlyList<SaliencyMethod> methods, SaliencyOptions options, string outFolder)
    {
        var items = PointingGame.ReadCsv(csv, trained.Classes);
        var result = PointingGame.Run(model, items, methods, options);
        var inv = CultureInfo.InvariantCulture;
        foreach (var s in result.Scores)
            Console.WriteLine(string.Create(inv, $"{ExplainJob.Name(s.Method)}: {s.Hits}/{s.Total} hits ({s.HitRate:P1})"));
        foreach (var s in result.Skipped) Console.Error.WriteLine($"skipped {s}");
        Directory.CreateDirectory(outFolder);
        var json = JsonSerializer.Serialize(new
        {
            boxes = csv,
            weights = trained.Weights,
            methods = result.Scores.Select(s => new { method = ExplainJob.Name(s.Method), hits = s.Hits, total = s.Total, hit_rate = s.Total == 0 ? (double?)null : s.HitRate }),
            skipped = result.Skipped,
        }, new JsonSerializerOptions { WriteIndented = true });
        var file = ExplainJob.FreeName(outFolder, "pointing-game", ".json");
        AtomicFile.WriteText(file, json + "\n");
        Console.WriteLine($"pointing game: {file}");
        return result.Skipped.Count == 0 ? 0 : 2;
    }

    private static IReadOnlyList<SaliencyMethod> Methods(string text, IImageClassifier model) => text.ToLowerInvariant() switch
    {
        "all" => ExplainJob.AllFor(model),
        "gradcam" or "grad-cam" => [SaliencyMethod.GradCam],
        "wkv" => [SaliencyMethod.Wkv],
        "occlusion" => [SaliencyMethod.Occlusion],
        _ => throw new ArgumentException($"--method {text}: expected gradcam, wkv, occlusion or all"),
    };

    /// <summary>An option value naming a member of <typeparamref name="T"/>, in any case; else a one-line error listing them.</summary>
    private static T Choice<T>(string option, string value) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed
        : throw new ArgumentException($"{option} {value}: expected {string.Join(" or ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");

    private static int LabelIndex(string label, TrainedClassifier trained) =>
        trained.Classes.TryIndexOf(label, out var id) ? id
        : int.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) && index >= 0 && index < trained.Classes.Count ? index
        : throw new ArgumentException($"--label {label}: neither a class of the model nor an index below {trained.Classes.Count}");
}
