using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VisionRwkv.Common;
using VisionRwkv.Text;
using VisionRwkv.Text.Tokenizers;

namespace VisionRwkv.Cli.Commands.Text;

/// <summary><c>rwkv text eval</c>: cross-entropy, bits per byte and perplexity of a model on a text file.</summary>
internal static class TextEvalCommand
{
    public static Command Create()
    {
        var model = TextCommand.ModelOption();
        var data = new Option<string>("--data") { Description = "A UTF-8 text file.", Required = true };
        var tokenizer = TextCommand.TokenizerOption();
        var context = new Option<int>("--context") { Description = "Tokens per forward call (RWKV carries its state across calls; GPT windows are capped at block_size).", DefaultValueFactory = _ => 1024 };
        var maxBytes = new Option<long?>("--max-bytes") { Description = "Evaluate only the first N bytes of the file." };
        var json = new Option<string?>("--json") { Description = "Also write the result as JSON to this file." };
        var command = new Command("eval", "Cross-entropy (nats/token), bits per byte and perplexity on a text file.")
        {
            model, data, tokenizer, context, maxBytes, json,
        };
        command.SetAction(parse =>
        {
            try
            {
                string path = parse.GetValue(data)!;
                if (!File.Exists(path)) return CommandErrors.Fail("text eval", $"{path}: no such file");
                var bytes = File.ReadAllBytes(path);
                if (parse.GetValue(maxBytes) is long n && n < bytes.Length) bytes = bytes[..(int)n];
                string text;
                try
                {
                    text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
                }
                catch (DecoderFallbackException e)
                {
                    return CommandErrors.Fail("text eval", $"{path}: not valid UTF-8 at byte offset {e.Index}");
                }
                var loaded = TextCommand.LoadModel(parse.GetValue(model)!);
                using var m = loaded.Model;
                var tok = TokenizerFactory.Open(parse.GetValue(tokenizer), m.VocabSize);
                var ids = tok.Encode(text);
                if (ids.Length < 2) return CommandErrors.Fail("text eval", $"{path}: fewer than two tokens");
                long predictedBytes = Encoding.UTF8.GetByteCount(text) - Encoding.UTF8.GetByteCount(tok.Decode([ids[0]]));
                Console.Error.WriteLine($"data {path}: {bytes.Length:N0} bytes, {ids.Length:N0} tokens ({tok.Name})");
                // A progress counter only on a terminal; redirected output gets the result line alone.
                Action<long, long>? progress = Console.IsErrorRedirected ? null : (done, total) => Console.Error.Write($"\r{done:N0}/{total:N0} tokens");
                var r = TextEvaluation.Evaluate(m, ids, predictedBytes, parse.GetValue(context), progress);
                if (progress is not null) Console.Error.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{m.Name}: {r.Tokens:N0} tokens, {r.Bytes:N0} bytes: cross-entropy {r.CrossEntropy:F4} nats/token, " +
                    $"{r.BitsPerByte:F4} bits/byte, perplexity {r.Perplexity:F3} (context {r.Context}, {r.Seconds:F1}s)"));
                if (parse.GetValue(json) is { } jsonPath)
                    AtomicFile.Write(jsonPath, s => JsonSerializer.Serialize(s, new { model = m.Name, data = path, tokenizer = tok.Name, tokens = r.Tokens, bytes = r.Bytes, cross_entropy = r.CrossEntropy, bits_per_byte = r.BitsPerByte, perplexity = r.Perplexity, context = r.Context, seconds = r.Seconds }));
                (tok as IDisposable)?.Dispose();
                return 0;
            }
            catch (Exception e) when (CommandErrors.IsUserError(e))
            {
                return CommandErrors.Fail("text eval", e.Message);
            }
        });
        return command;
    }
}
