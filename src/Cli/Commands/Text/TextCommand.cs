using System.CommandLine;
using System.Globalization;
using TorchSharp;
using VisionRwkv.Text;

namespace VisionRwkv.Cli.Commands.Text;

/// <summary><c>rwkv text</c>: the causal language models (RWKV-4 and the GPT baseline).</summary>
internal static class TextCommand
{
    public static Command Create(VisionRwkv.Runtime.KernelOptions kernels)
    {
        var command = new Command("text", "Causal language models: RWKV-4 (parallel and recurrent modes) and the GPT baseline.");
        command.Subcommands.Add(TextLogitsCommand.Create());
        command.Subcommands.Add(TextGenerateCommand.Create());
        command.Subcommands.Add(TextEvalCommand.Create());
        command.Subcommands.Add(TextTrainCommand.Create(kernels));
        return command;
    }

    /// <summary>--model: a checkpoint or a preset; presets start from seed 0 so that repeated runs agree.</summary>
    internal static Option<string> ModelOption() => new("--model")
    {
        Description = "A .pth/.safetensors checkpoint (RWKV-LM or nanoGPT key names) or a preset: " + string.Join(", ", TextModels.All.Select(p => p.Name)),
        Required = true,
    };

    internal static Option<string?> TokenizerOption() => new("--tokenizer")
    {
        Description = "bytes, world:FILE (RWKV World vocabulary .txt) or bpe:FILE (HuggingFace tokenizer.json, e.g. 20B_tokenizer.json). Default: bytes for 256-token models.",
    };

    internal static LoadedLanguageModel LoadModel(string spec)
    {
        torch.manual_seed(0);
        var loaded = TextModels.CreateOrLoad(spec);
        loaded.Model.Module.eval();
        var p = loaded.Model.Module.parameters().Sum(t => t.numel());
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model {loaded.Model.Name} ({loaded.Model.GetType().Name}, {p / 1e6:F2}M params, vocab {loaded.Model.VocabSize}): {FirstLine(loaded.Report.ToString())}"));
        if (loaded.Report.Unexpected.Count > 0)
            Console.Error.WriteLine($"ignored {loaded.Report.Unexpected.Count} tensors the model does not have: {string.Join(", ", loaded.Report.Unexpected.Take(8))}{(loaded.Report.Unexpected.Count > 8 ? ", ..." : "")}");
        return loaded;
    }



    private static string FirstLine(string s) => s.Split('\n')[0];
}
