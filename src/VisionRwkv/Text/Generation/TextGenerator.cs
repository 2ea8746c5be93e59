using TorchSharp;
using VisionRwkv.Text.Tokenizers;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Generation;

/// <summary>Why a generation ended.</summary>
public enum StopReason
{
    MaxTokens,
    StopString,
    ContextFull,
}

/// <summary>What a finished generation did.</summary>
public sealed record GenerationSummary(int PromptTokens, int NewTokens, StopReason Reason, double PromptSeconds, double GenerateSeconds);

/// <summary>
/// Text generation for either model: the prompt goes through the parallel mode once, then one token at a time
/// through the recurrent mode (RWKV) or the key/value cache (GPT). Output streams as text pieces: a piece is held
/// back while it ends inside a multi-byte character or could be the start of a stop string.
/// </summary>
public sealed class TextGenerator(ILanguageModel model, ITokenizer tokenizer)
{
    /// <summary>Set when the last <see cref="Stream"/> enumeration finished.</summary>
    public GenerationSummary? Last { get; private set; }

    /// <summary>The whole generated text (not the prompt).</summary>
    public string Complete(string prompt, SamplingOptions options, ILanguageModelState? context = null) =>
        string.Concat(Stream(prompt, options, context));

    /// <summary>
    /// Generated text, piece by piece, as it becomes final. <paramref name="context"/> continues a saved context (an
    /// RWKV state from <see cref="RwkvState.Load"/>): the prompt is read after it. The caller keeps and disposes it;
    /// a GPT cache passed here is extended in place.
    /// </summary>
    public IEnumerable<string> Stream(string prompt, SamplingOptions options, ILanguageModelState? context = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Last = null;
        var promptIds = tokenizer.Encode(prompt);
        if (promptIds.Length == 0) throw new ArgumentException("the prompt is empty (it must give at least one token)", nameof(prompt));
        if (model.MaxContext is long max && promptIds.Length > max)
            throw new ArgumentException($"the prompt has {promptIds.Length} tokens, more than {model.Name}'s context of {max}", nameof(prompt));
        var sampler = new Sampler(options);
        var stops = options.StopStrings;
        var pendingTokens = new List<int>();
        string held = "";
        int generated = 0;
        var reason = StopReason.MaxTokens;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double promptSeconds = 0;
        ILanguageModelState? state = context;
        float[] row;
        // Grad mode and dispose scopes are per thread: each is opened and closed between two yields, never across one.
        try
        {
            using (var noGrad = no_grad())
            using (var scope = NewDisposeScope())
            {
                var (logits, s) = model.Prefill(tensor(promptIds.Select(i => (long)i).ToArray()).view(1, -1), context);
                state = s.MoveToOuterDisposeScope();
                row = logits[0, -1].to(ScalarType.Float32).data<float>().ToArray();
            }
            promptSeconds = clock.Elapsed.TotalSeconds;
            while (generated < options.MaxTokens)
            {
                int token = sampler.Next(row);
                generated++;
                pendingTokens.Add(token);
                var text = tokenizer.Decode(pendingTokens);
                bool last = generated == options.MaxTokens;
                if (!text.Contains('\uFFFD', StringComparison.Ordinal) || last)
                {
                    held += text;
                    pendingTokens.Clear();
                    var (emit, rest, stopped) = SplitAtStop(held, stops);
                    held = rest;
                    if (emit.Length > 0) yield return emit;
                    if (stopped)
                    {
                        reason = StopReason.StopString;
                        break;
                    }
                }
                if (last) break;
                if (model.MaxContext is long m && state!.Tokens >= m)
                {
                    reason = StopReason.ContextFull;
                    break;
                }
                using var stepGrad = no_grad();
                using var stepScope = NewDisposeScope();
                var (next, ns) = model.Step(tensor(new long[] { token }), state);
                row = next[0].to(ScalarType.Float32).data<float>().ToArray();
                if (!ReferenceEquals(ns, state))
                {
                    ns.MoveToOuterDisposeScope();
                    if (!ReferenceEquals(state, context)) state!.Dispose();
                    state = ns;
                }
            }
            if (reason != StopReason.StopString)
            {
                var tail = held + (pendingTokens.Count > 0 ? tokenizer.Decode(pendingTokens) : "");
                if (tail.Length > 0) yield return tail;
            }
            Last = new GenerationSummary(promptIds.Length, generated, reason, promptSeconds, clock.Elapsed.TotalSeconds - promptSeconds);
        }
        finally
        {
            if (!ReferenceEquals(state, context)) state?.Dispose();
        }
    }

    /// <summary>
    /// Splits held text into what can be output now and what must wait: everything before a stop string (then
    /// stopped), or everything except the longest tail that could still grow into a stop string.
    /// </summary>
    internal static (string Emit, string Held, bool Stopped) SplitAtStop(string held, IReadOnlyList<string> stops)
    {
        int first = -1;
        foreach (var s in stops)
        {
            int i = held.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0) return (held[..first], "", true);
        int keep = 0;
        foreach (var s in stops)
            for (int n = Math.Min(s.Length - 1, held.Length); n > keep; n--)
                if (held.AsSpan(held.Length - n).SequenceEqual(s.AsSpan(0, n))) { keep = n; break; }
        return (held[..^keep], held[^keep..], false);
    }
}
