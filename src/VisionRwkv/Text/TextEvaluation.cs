using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>How well a model predicts a text: every token after the first, predicted from the ones before it.</summary>
/// <param name="Tokens">Predicted tokens.</param>
/// <param name="Bytes">UTF-8 bytes of the predicted text (bits per byte divides by these).</param>
/// <param name="CrossEntropy">Mean negative log-likelihood in nats per token.</param>
/// <param name="BitsPerByte">Total negative log-likelihood in bits over the bytes: comparable across tokenizers.</param>
/// <param name="Perplexity">e^CrossEntropy (per token).</param>
/// <param name="Context">Tokens per forward call; RWKV carries its state across calls, GPT starts each window afresh.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record TextEvalResult(long Tokens, long Bytes, double CrossEntropy, double BitsPerByte, double Perplexity, int Context, double Seconds);

/// <summary>Cross-entropy, bits per byte and perplexity of a language model on a token stream.</summary>
public static class TextEvaluation
{
    /// <param name="model">Either model; evaluated in eval mode without gradients.</param>
    /// <param name="tokens">The text's tokens (at least two).</param>
    /// <param name="predictedBytes">UTF-8 bytes of the text the tokens after the first stand for.</param>
    /// <param name="context">
    /// Tokens per parallel call. RWKV passes its state from call to call, so every token is predicted from the whole
    /// text before it; the GPT can only see its own window (at most block_size), so it is evaluated in
    /// non-overlapping windows.
    /// </param>
    /// <param name="progress">Called after each window with (tokens done, tokens total).</param>
    public static TextEvalResult Evaluate(ILanguageModel model, IReadOnlyList<int> tokens, long predictedBytes, int context = 1024,
        Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count < 2) throw new ArgumentException("evaluation needs at least two tokens", nameof(tokens));
        if (model.MaxContext is long max) context = (int)Math.Min(context, max);
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        var clock = Stopwatch.StartNew();
        model.Module.eval();
        using var noGrad = no_grad();
        var device = model.Module.parameters().First().device;
        bool carries = model is RwkvLm;
        double nats = 0;
        long predicted = 0, total = tokens.Count - 1;
        ILanguageModelState? state = null;
        try
        {
            for (long start = 0; start < total; start += context)
            {
                using var scope = NewDisposeScope();
                long n = Math.Min(context, total - start);
                var input = tensor(Enumerable.Range((int)start, (int)n).Select(i => (long)tokens[i]).ToArray(), device: device).view(1, -1);
                var target = tensor(Enumerable.Range((int)start + 1, (int)n).Select(i => (long)tokens[i]).ToArray(), device: device);
                var (logits, next) = model.Prefill(input, carries ? state : null);
                var rows = logits[0].dtype == ScalarType.Float64 ? logits[0] : logits[0].to(ScalarType.Float32);   // [n,V]
                nats += nn.functional.cross_entropy(rows, target, reduction: nn.Reduction.Sum).to(ScalarType.Float64).item<double>();
                predicted += n;
                if (carries)
                {
                    next.MoveToOuterDisposeScope();
                    state?.Dispose();
                    state = next;
                }
                progress?.Invoke(predicted, total);
            }
        }
        finally
        {
            state?.Dispose();
        }
        double ce = nats / predicted;
        return new TextEvalResult(predicted, predictedBytes, ce, nats / Math.Log(2) / Math.Max(1, predictedBytes), Math.Exp(ce), context, clock.Elapsed.TotalSeconds);
    }
}
