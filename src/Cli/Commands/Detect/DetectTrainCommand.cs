using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using VisionRwkv.Cli.Training;
using VisionRwkv.Detection.Evaluation;
using VisionRwkv.Detection.Runs;
using VisionRwkv.Runtime;
using VisionRwkv.Training;

namespace VisionRwkv.Cli.Commands.Detect;

/// <summary><c>rwkv detect train</c>: a detector through <see cref="DetectRun"/> on the training engine.</summary>
internal static class DetectTrainCommand
{
    public static Command Create(KernelOptions kernels)
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "YAML or JSON detection config (model, img_size, data, synthetic, augment, post_process, train: {...}); options below override it." };
        var data = new Option<string?>("--data", "-d") { Description = "synthetic[:DIR] (Fashion-MNIST items on cluttered canvases, made on first use), coco:DIR or yolo:DIR." };
        var model = new Option<string?>("--model", "-m") { Description = "Backbone preset (vrwkv_t, vrwkv_s, ...)." };
        var imgSize = new Option<int?>("--img-size") { Description = "Square input side; images are letterboxed to it." };
        var initFrom = new Option<string?>("--init-from") { Description = "Backbone weights: a classification run folder, a .safetensors or an official .pth (head keys are skipped)." };
        var freeze = new Option<bool>("--freeze-backbone") { Description = "Train only the pyramid and the head." };
        var engine = new EngineOptions("Images per batch.", "Seed for initialisation, shuffling and augmentation.");
        var command = new Command("train", "Train a detector with the training engine: run folder, checkpoints, resume, COCO metrics on the test split at the end.")
        {
            config, data, model, imgSize, initFrom, freeze,
        };
        foreach (var o in engine.All)
            command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            try
            {
                var options = new RunOptions { Log = Console.Out, Kernels = kernels };
                var sw = Stopwatch.StartNew();
                DetectRunResult run;
                if (parse.GetValue(engine.Resume) is { } resumeDir)
                    run = ConsoleReporting.Run(reporter => DetectRun.Resume(resumeDir.FullName, options with { Reporter = reporter }, ct));
                else
                {
                    var spec = parse.GetValue(config) is { } file ? DetectRunSpec.Load(file.FullName) : new DetectRunSpec();
                    var t = engine.Apply(parse, spec.Train);
                    spec = spec with
                    {
                        Model = parse.GetValue(model) ?? spec.Model,
                        Data = parse.GetValue(data) ?? spec.Data,
                        ImgSize = parse.GetValue(imgSize) ?? spec.ImgSize,
                        InitFrom = parse.GetValue(initFrom) ?? spec.InitFrom,
                        Train = parse.GetValue(freeze) ? t with { FreezeBackbone = true } : t,
                    };
                    string runDir = engine.RunDirectory(parse, spec.Model + "-detect");
                    run = ConsoleReporting.Run(reporter => DetectRun.Train(spec, runDir, options with { Reporter = reporter }, ct));
                }
                var result = run.Result;
                var inv = CultureInfo.InvariantCulture;
                if (run.Test is { } test)
                {
                    Console.Write(test.Metrics.Summary());
                    Console.WriteLine(string.Create(inv, $"{result.TestSplit}: AP {test.Metrics.AP:F4}  AP50 {test.Metrics.AP50:F4}  AP75 {test.Metrics.AP75:F4}  ({test.Images} images, {test.Results.Count} detections, best epoch {result.BestEpoch})"));
                }
                Console.WriteLine(string.Create(inv, $"trained {result.EpochsCompleted} epochs in {result.TrainSeconds:F0}s (wall {sw.Elapsed.TotalSeconds:F0}s), {run.Parameters / 1e6:F2}M params"));
                Console.WriteLine($"run folder: {result.RunDirectory}");
                return Task.FromResult(result.Completed ? 0 : 130);
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return Task.FromResult(CommandErrors.Fail("detect train", e.Message));
            }
        });
        return command;
    }
}
