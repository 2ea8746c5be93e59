using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Labeling;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary>
/// <c>rwkv bench label FOLDER --model M</c>: decode-only, model-only and end-to-end images/s of the labeling job on the
/// same files in one run, and the ratio of end-to-end to the ideal 1/(1/decode + 1/model).
/// </summary>
internal static class BenchLabelCommand
{
    internal static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "Folder of photos (scanned recursively)." };
        var model = new Option<string>("--model") { Description = "A registry model (random weights: speed only), a run folder, or a checkpoint with --classes.", Required = true };
        var classes = new Option<string?>("--classes") { Description = "Label names for a checkpoint." };
        var arch = new Option<string>("--arch") { Description = "Registry model of a checkpoint.", DefaultValueFactory = _ => "vrwkv_t" };
        var size = new Option<int?>("--input-size") { Description = "Square input size (default: the model's, e.g. 224)." };
        var batch = new Option<int>("--batch-size", "-b") { Description = "Images per model call.", DefaultValueFactory = _ => 16 };
        var threads = new Option<int>("--threads") { Description = "Decode threads (0: one per core).", DefaultValueFactory = _ => 0 };
        var torchThreads = new Option<int?>("--torch-threads") { Description = "LibTorch intra-op threads (default: one per core)." };
        var overlap = new Option<bool>("--overlap") { Description = "Let decoding run during inference in the end-to-end run." };
        var limit = new Option<int?>("--limit") { Description = "Use at most this many files." };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file." };
        var command = new Command("label", "Labeling throughput: decode-only, model-only and end-to-end images/s on the same files.")
        {
            folder, model, classes, arch, size, batch, threads, torchThreads, overlap, limit, json,
        };
        command.SetAction(parse =>
        {
            set_num_threads(parse.GetValue(torchThreads) ?? Math.Max(1, Environment.ProcessorCount));
            using var labeler = ClassifierLabeler.Open(parse.GetValue(model)!, parse.GetValue(classes), parse.GetValue(arch)!, inputSize: parse.GetValue(size), allowRandom: true);
            var options = new LabelOptions
            {
                OutputDirectory = Path.GetTempPath(),
                BatchSize = parse.GetValue(batch),
                DecodeThreads = parse.GetValue(threads),
                PauseDecodeDuringInference = !parse.GetValue(overlap),
            };
            var r = LabelBench.Run(labeler, parse.GetValue(folder)!, options, parse.GetValue(limit), Console.WriteLine);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"model {r.ModelId}, input {r.Input}, batch {r.BatchSize}, {r.Images} images, {r.DecodeThreads} decode threads, {r.TorchThreads} torch threads, decoders {(r.PauseDecode ? "pause during inference" : "overlap inference")}"));
            Console.WriteLine(string.Create(inv, $"decode only  {r.DecodeImgPerS,8:F1} img/s"));
            Console.WriteLine(string.Create(inv, $"model only   {r.ModelImgPerS,8:F1} img/s"));
            Console.WriteLine(string.Create(inv, $"end to end   {r.ImgPerS,8:F1} img/s"));
            Console.WriteLine(string.Create(inv, $"ideal 1/(1/decode + 1/model) = {r.IdealImgPerS:F1} img/s; end to end is {r.RatioToIdeal:P1} of it"));
            if (parse.GetValue(json) is { } path)
                AtomicFile.WriteText(path, JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return 0;
        });
        return command;
    }
}
