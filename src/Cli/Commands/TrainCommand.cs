using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using VisionRwkv.Training;
using VisionRwkv.Cli.Training;
using VisionRwkv.Runs;
using VisionRwkv.Runtime;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv train</c>: train a classifier; with no arguments, the main job (vrwkv_mini_28 on Fashion-MNIST).</summary>
internal static class TrainCommand
{
    public static Command Create(KernelOptions kernels)
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "YAML or JSON run config (model, data, augment, train: {...}); options below override it." };
        var model = new Option<string?>("--model", "-m") { Description = "Model preset (see 'rwkv models'). Default: vrwkv_mini_28." };
        var data = new Option<string?>("--data", "-d") { Description = "fashion-mnist (default), idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS], an image folder, a .csv/.jsonl manifest, or a chest X-ray set in its published layout: nih:DIR, chexpert:DIR[?policy=ignore|zeros|ones], mimic:DIR; ?labels=A,B keeps some findings (joined to a policy by &)." };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from these weights: a run folder, a .safetensors, or a .pth (official Vision-RWKV checkpoints too). A head of another class count is re-initialised, pos_embed resized, 1<->3 input channels adapted; the report is saved as init_report.txt." };
        var freeze = new Option<bool?>("--freeze-backbone") { Description = "Train the head only (a linear probe)." };
        var backboneLr = new Option<double?>("--backbone-lr-scale") { Description = "Multiply the backbone's learning rate by this (fine-tuning; 1 = same as the head)." };
        var layerDecay = new Option<double?>("--layer-decay") { Description = "Layer-wise learning-rate decay (e.g. 0.75): block i of L gets decay^(L+1-(i+1))." };
        var wd = new Option<double?>("--weight-decay") { Description = "AdamW weight decay (not applied to norms, biases and 1-D parameters)." };
        var warmup = new Option<double?>("--warmup-epochs") { Description = "Linear warm-up length in epochs." };
        var smoothing = new Option<double?>("--label-smoothing") { Description = "Label smoothing for cross-entropy." };
        var clip = new Option<double?>("--clip-grad") { Description = "Clip the gradient norm to this value (0 = off)." };
        var accum = new Option<int?>("--grad-accum") { Description = "Accumulate gradients over this many batches per update." };
        var ema = new Option<bool?>("--ema") { Description = "Keep an EMA of the weights and evaluate it separately." };
        var mixup = new Option<double?>("--mixup") { Description = "Mixup alpha (0 = off)." };
        var cutmix = new Option<double?>("--cutmix") { Description = "CutMix alpha (0 = off)." };
        var aa = new Option<string?>("--aa") { Description = "RandAugment policy, e.g. rand-m9-mstd0.5." };
        var multiLabel = new Option<bool?>("--multi-label") { Description = "Multi-label training (BCE with per-label positive weights) for manifest data." };
        var valFraction = new Option<double?>("--val-fraction") { Description = "Fraction of the training data held out for validation." };
        var limit = new Option<int?>("--limit-train") { Description = "Train on a stratified subset of this many images (quick runs)." };
        var threads = new Option<int?>("--threads") { Description = "Data-loading threads." };

        var engine = new EngineOptions("Batch size.", "Seed for initialisation, data order and augmentation.");
        var command = new Command("train", "Train an image classifier. With no options: vrwkv_mini_28 on Fashion-MNIST (the main job).")
        {
            config, model, data, initFrom, freeze, backboneLr, layerDecay, wd, warmup, smoothing, clip, accum, ema,
            mixup, cutmix, aa, multiLabel, valFraction, limit, threads,
        };
        foreach (var o in engine.All)
            command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var options = new RunOptions { Log = Console.Out, Kernels = kernels };
            var sw = Stopwatch.StartNew();
            ClassifierRunResult run;
            if (parse.GetValue(engine.Resume) is { } resumeDir)
                run = ConsoleReporting.Run(reporter => ClassifierRun.Resume(resumeDir.FullName, options with { Reporter = reporter }, ct));
            else
            {
                var spec = parse.GetValue(config) is { } file ? RunSpec.Load(file.FullName) : new RunSpec();
                var t = spec.Train;
                t = engine.Apply(parse, t) with
                {
                    WeightDecay = parse.GetValue(wd) ?? t.WeightDecay,
                    WarmupEpochs = parse.GetValue(warmup) ?? t.WarmupEpochs,
                    LabelSmoothing = parse.GetValue(smoothing) ?? t.LabelSmoothing,
                    ClipGradNorm = parse.GetValue(clip) ?? t.ClipGradNorm,
                    GradAccumSteps = parse.GetValue(accum) ?? t.GradAccumSteps,
                    Ema = parse.GetValue(ema) ?? t.Ema,
                    MultiLabel = parse.GetValue(multiLabel) ?? t.MultiLabel,
                    FreezeBackbone = parse.GetValue(freeze) ?? t.FreezeBackbone,
                    BackboneLrScale = parse.GetValue(backboneLr) ?? t.BackboneLrScale,
                    LayerDecay = parse.GetValue(layerDecay) ?? t.LayerDecay,
                };
                if (t.MultiLabel && t.BestMetric == "val_top1") t = t with { BestMetric = "val_auroc" };
                var a = spec.Augment;
                spec = spec with
                {
                    Model = parse.GetValue(model) ?? spec.Model,
                    Data = parse.GetValue(data) ?? spec.Data,
                    InitFrom = parse.GetValue(initFrom) ?? spec.InitFrom,
                    ValFraction = parse.GetValue(valFraction) ?? spec.ValFraction,
                    LimitTrain = parse.GetValue(limit) ?? spec.LimitTrain,
                    Threads = parse.GetValue(threads) ?? spec.Threads,
                    Augment = a with
                    {
                        AutoAugment = parse.GetValue(aa) ?? a.AutoAugment,
                        MixupAlpha = parse.GetValue(mixup) ?? a.MixupAlpha,
                        CutmixAlpha = parse.GetValue(cutmix) ?? a.CutmixAlpha,
                    },
                    Train = t,
                };
                string runDir = engine.RunDirectory(parse, spec.Model);
                run = ConsoleReporting.Run(reporter => ClassifierRun.Train(spec, runDir, options with { Reporter = reporter }, ct));
            }
            var result = run.Result;
            var inv = CultureInfo.InvariantCulture;
            if (run.Test is { MultiLabel: true, MultiLabelMetrics: { } ml } mlTest)
                Console.WriteLine(string.Create(inv, $"{result.TestSplit} macro AUROC {ml.MacroAuroc:F4}  macro AP {ml.MacroAveragePrecision:F4}  ({mlTest.Samples} images, best epoch {result.BestEpoch}); 'rwkv eval {result.RunDirectory}' for CIs, operating points and the report"));
            else if (run.Test is { } test)
                Console.WriteLine(string.Create(inv, $"{result.TestSplit} top-1 {test.Top1 * 100:F2}%  top-5 {test.Top5 * 100:F2}%  ({test.Samples} images, best epoch {result.BestEpoch})"));
            Console.WriteLine(string.Create(inv, $"trained {result.EpochsCompleted} epochs in {result.TrainSeconds:F0}s (wall {sw.Elapsed.TotalSeconds:F0}s)"));
            Console.WriteLine($"run folder: {result.RunDirectory}");
            return Task.FromResult(result.Completed ? 0 : 130);
        });
        return command;
    }
}
