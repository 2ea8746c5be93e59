using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using VisionRwkv.Training;
using VisionRwkv.Cli.Training;
using VisionRwkv.Runs;
using VisionRwkv.Runtime;
using VisionRwkv.Text.Training;

namespace VisionRwkv.Cli.Commands.Text;

/// <summary><c>rwkv text train</c>: a language model on a text, through <see cref="TextRun"/> and the training engine.</summary>
internal static class TextTrainCommand
{
    public static Command Create(KernelOptions kernels)
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "YAML or JSON text run config (model, data, n_layer, n_embd, seq_len, steps_per_epoch, train: {...}); options below override it." };
        var data = new Option<string?>("--data", "-d") { Description = "A UTF-8 text file (85/5/10 split by position), or 'fortunes' (the Debian fortune files, every 10th fortune held out). Default: fortunes." };
        var model = new Option<string?>("--model", "-m") { Description = "A text model preset (rwkv4_... or gpt_...; see 'rwkv text logits --help'). Default: rwkv4_byte_2x64." };
        var layers = new Option<int?>("--n-layer") { Description = "Blocks (overrides the preset)." };
        var width = new Option<int?>("--n-embd") { Description = "Width (overrides the preset; RWKV channel mix 3.5x, GPT heads of 64)." };
        var steps = new Option<int?>("--steps-per-epoch") { Description = "Batches of random windows per epoch." };
        var seqLen = new Option<int?>("--seq-len") { Description = "Tokens per window." };
        var engine = new EngineOptions("Windows per batch.", "Seed for initialisation and the windows drawn.");
        var command = new Command("train", "Train a language model (RWKV-4 or the GPT baseline) on a text with the training engine: run folder, checkpoints, resume, plots.")
        {
            config, data, model, layers, width, steps, seqLen,
        };
        foreach (var o in engine.All)
            command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            try
            {
                var options = new RunOptions { Log = Console.Out, Kernels = kernels };
                var sw = Stopwatch.StartNew();
                TextRunResult run;
                if (parse.GetValue(engine.Resume) is { } resumeDir)
                    run = ConsoleReporting.Run(reporter => TextRun.Resume(resumeDir.FullName, options with { Reporter = reporter }, ct));
                else
                {
                    var spec = parse.GetValue(config) is { } file ? TextRunSpec.Load(file.FullName) : new TextRunSpec();
                    var t = spec.Train;
                    spec = spec with
                    {
                        Model = parse.GetValue(model) ?? spec.Model,
                        Data = parse.GetValue(data) ?? spec.Data,
                        NLayer = parse.GetValue(layers) ?? spec.NLayer,
                        NEmbd = parse.GetValue(width) ?? spec.NEmbd,
                        SeqLen = parse.GetValue(seqLen) ?? spec.SeqLen,
                        StepsPerEpoch = parse.GetValue(steps) ?? spec.StepsPerEpoch,
                        Train = engine.Apply(parse, t),
                    };
                    string runDir = engine.RunDirectory(parse, spec.Model);
                    run = ConsoleReporting.Run(reporter => TextRun.Train(spec, runDir, options with { Reporter = reporter }, ct));
                }
                var result = run.Result;
                var inv = CultureInfo.InvariantCulture;
                if (run.Test is { } test)
                    Console.WriteLine(string.Create(inv, $"{result.TestSplit} bits/byte {test.BitsPerByte:F4}  cross-entropy {test.Loss:F4} nats/token  ({test.Tokens:N0} tokens, {test.Bytes:N0} bytes, best epoch {result.BestEpoch})"));
                Console.WriteLine(string.Create(inv, $"trained {result.EpochsCompleted} epochs in {result.TrainSeconds:F0}s (wall {sw.Elapsed.TotalSeconds:F0}s), {run.Parameters / 1e6:F2}M params"));
                Console.WriteLine($"run folder: {result.RunDirectory}");
                if (result.Completed) Console.WriteLine($"model: {run.ModelPath}");
                return Task.FromResult(result.Completed ? 0 : 130);
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return Task.FromResult(CommandErrors.Fail("text train", e.Message));
            }
        });
        return command;
    }
}
