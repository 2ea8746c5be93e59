using System.CommandLine;
using System.Globalization;
using VisionRwkv.Text;
using VisionRwkv.Text.Generation;
using VisionRwkv.Text.Tokenizers;

namespace VisionRwkv.Cli.Commands.Text;

/// <summary><c>rwkv text generate</c>: continues a prompt, streaming the text to stdout (statistics go to stderr).</summary>
internal static class TextGenerateCommand
{
    public static Command Create()
    {
        var model = TextCommand.ModelOption();
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var tokenizer = TextCommand.TokenizerOption();
        var maxTokens = new Option<int>("--max-tokens") { Description = "New tokens at most.", DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = always the most likely token.", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass (1 = off).", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off).", DefaultValueFactory = _ => 0 };
        var presence = new Option<double>("--presence-penalty") { Description = "Subtracted once from the logit of every token already generated." };
        var frequency = new Option<double>("--frequency-penalty") { Description = "Subtracted from a token's logit per time it was generated." };
        var stop = new Option<string[]>("--stop") { Description = "Stop before this text (repeatable).", AllowMultipleArgumentsPerToken = false };
        var seed = new Option<int?>("--seed") { Description = "Seed for repeatable sampling." };
        var stateIn = new Option<string?>("--state") { Description = "RWKV only: continue after a saved state (a state file, or the output of rwkv text logits); the prompt follows it." };
        var command = new Command("generate", "Continue a prompt: the prompt in parallel mode, then one token at a time (RWKV state / GPT key-value cache).")
        {
            model, prompt, tokenizer, maxTokens, temperature, topP, topK, presence, frequency, stop, seed, stateIn,
        };
        command.SetAction(parse =>
        {
            try
            {
                var options = new SamplingOptions
                {
                    MaxTokens = parse.GetValue(maxTokens), Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP),
                    TopK = parse.GetValue(topK), PresencePenalty = parse.GetValue(presence), FrequencyPenalty = parse.GetValue(frequency),
                    StopStrings = (parse.GetValue(stop) ?? []).Select(Unescape).ToList(), Seed = parse.GetValue(seed),
                };
                options.Validate();
                var loaded = TextCommand.LoadModel(parse.GetValue(model)!);
                using var m = loaded.Model;
                var tok = TokenizerFactory.Open(parse.GetValue(tokenizer), m.VocabSize);
                var generator = new TextGenerator(m, tok);
                var text = parse.GetValue(prompt)!;
                string? statePath = parse.GetValue(stateIn);
                using var context = statePath is null ? null
                    : RwkvState.Load(statePath, (m as RwkvLm)?.Config ?? throw new ArgumentException("--state continues an RWKV-4 state; this model is a GPT"));
                if (context is not null) Console.Error.WriteLine($"continuing after {context.Tokens} tokens of saved state ({statePath})");
                Console.Write(text);
                foreach (var piece in generator.Stream(text, options, context))
                {
                    Console.Write(piece);
                    Console.Out.Flush();
                }
                Console.WriteLine();
                var s = generator.Last!;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"prompt {s.PromptTokens} tokens in {s.PromptSeconds:F2}s; {s.NewTokens} new tokens in {s.GenerateSeconds:F2}s " +
                    $"({(s.GenerateSeconds > 0 ? s.NewTokens / s.GenerateSeconds : 0):F1} tokens/s); stopped: {s.Reason}"));
                (tok as IDisposable)?.Dispose();
                return 0;
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return CommandErrors.Fail("text generate", e.Message);
            }
        });
        return command;
    }

    /// <summary>Lets a shell user write a newline stop string as <c>\n</c>.</summary>
    private static string Unescape(string s) => s.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal);
}
