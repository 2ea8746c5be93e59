using System.CommandLine;
using System.Globalization;
using VisionRwkv.Checkpoints;
using VisionRwkv.Text;
using VisionRwkv.Text.Gpt;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands.Text;

/// <summary>
/// <c>rwkv text logits</c>: logits at every position of a token sequence and the final state, written to a
/// safetensors file: <c>logits</c> [T, vocab] float32, <c>tokens</c> [T] int64 and <c>state</c> — RWKV-4:
/// [n_layer, 5, 1, C] (per layer att shift, WKV aa, bb, pp, ffn shift; see <see cref="RwkvState"/>); GPT: the key/value
/// cache [n_layer, 2, 1, n_head, T, head_size].
/// </summary>
internal static class TextLogitsCommand
{
    public static Command Create()
    {
        var model = TextCommand.ModelOption();
        var tokens = new Option<string?>("--tokens") { Description = "Comma-separated token ids, e.g. 34,105,110." };
        var text = new Option<string?>("--text") { Description = "Text to tokenize instead of --tokens." };
        var tokenizer = TextCommand.TokenizerOption();
        var mode = new Option<string>("--mode") { Description = "parallel (whole sequence at once) or recurrent (one token at a time).", DefaultValueFactory = _ => "parallel" };
        var output = new Option<string>("--out") { Description = "Output .safetensors file.", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite --out if it exists." };
        var command = new Command("logits", "Logits at every position and the final state of a token sequence, to a safetensors file.")
        {
            model, tokens, text, tokenizer, mode, output, force,
        };
        command.SetAction(parse =>
        {
            try
            {
                return Run(parse.GetValue(model)!, parse.GetValue(tokens), parse.GetValue(text), parse.GetValue(tokenizer),
                    parse.GetValue(mode)!, parse.GetValue(output)!, parse.GetValue(force));
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return CommandErrors.Fail("text logits", e.Message);
            }
        });
        return command;
    }

    private static int Run(string modelSpec, string? tokenList, string? text, string? tokenizerSpec, string mode, string output, bool force)
    {
        if (mode is not ("parallel" or "recurrent")) return CommandErrors.Fail("text logits", $"--mode must be parallel or recurrent, got '{mode}'");
        if ((tokenList is null) == (text is null)) return CommandErrors.Fail("text logits", "give exactly one of --tokens and --text");
        if (!output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return CommandErrors.Fail("text logits", $"{output}: --out must be a .safetensors file");
        if (File.Exists(output) && !force) return CommandErrors.Fail("text logits", $"{output}: already exists; pass --force to overwrite it");
        var loaded = TextCommand.LoadModel(modelSpec);
        using var model = loaded.Model;
        long[] ids = text is not null
            ? VisionRwkv.Text.Tokenizers.TokenizerFactory.Open(tokenizerSpec, model.VocabSize).Encode(text).Select(i => (long)i).ToArray()
            : ParseTokens(tokenList!);
        if (ids.Length == 0) return CommandErrors.Fail("text logits", "no tokens");
        if (ids.Any(i => i < 0 || i >= model.VocabSize)) return CommandErrors.Fail("text logits", $"token ids must be in 0..{model.VocabSize - 1}");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(ids).view(1, -1);                                     // [1,T]
        Tensor logits;
        ILanguageModelState state;
        if (mode == "parallel")
        {
            (logits, state) = model.Prefill(input);
            logits = logits[0];                                                  // [T,V]
        }
        else
        {
            ILanguageModelState? s = null;
            var rows = new List<Tensor>();
            foreach (var id in ids)
            {
                var (row, next) = model.Step(tensor(new[] { id }), s);
                if (s is not null && !ReferenceEquals(s, next)) s.Dispose();
                s = next;
                rows.Add(row[0]);
            }
            logits = stack(rows);                                                // [T,V]
            state = s!;
        }
        using (state)
        {
            var stateTensor = state switch
            {
                RwkvState r => r.ToTensor(),
                GptKvCache c => c.ToTensor(),
                _ => throw new NotSupportedException(state.GetType().Name),
            };
            var meta = new Dictionary<string, string>
            {
                ["model"] = model.Name,
                ["mode"] = mode,
                ["tokens"] = ids.Length.ToString(CultureInfo.InvariantCulture),
                ["state_layout"] = state is RwkvState
                    ? "rwkv4: [n_layer, 5, B, C]; per layer 0=att_shift (ln1 out) 1=wkv_num aa 2=wkv_den bb 3=wkv_logscale pp 4=ffn_shift (ln2 out)"
                    : "gpt: [n_layer, 2, B, n_head, T, head_size]; 0=keys 1=values",
            };
            SafeTensors.Write(output, new Dictionary<string, Tensor>
            {
                ["logits"] = logits.to(ScalarType.Float32).contiguous(),
                ["tokens"] = tensor(ids),
                ["state"] = stateTensor.contiguous(),
            }, meta);
            var last = logits[-1];
            var (top, at) = last.topk((int)Math.Min(5, model.VocabSize));
            var best = string.Join(", ", Enumerable.Range(0, (int)top.shape[0])
                .Select(i => string.Create(CultureInfo.InvariantCulture, $"{at[i].item<long>()}:{top[i].item<float>():F6}")));
            Console.WriteLine($"{mode}: {ids.Length} tokens -> logits [{ids.Length},{model.VocabSize}], state [{string.Join(",", stateTensor.shape)}]; last position top-5: {best}");
            Console.WriteLine($"wrote {Path.GetFullPath(output)}");
        }
        return 0;
    }

    private static long[] ParseTokens(string list)
    {
        var parts = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Select(p => long.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v : throw new FormatException($"--tokens: '{p}' is not an integer")).ToArray();
    }
}
