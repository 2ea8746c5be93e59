using System.Text;
using TorchSharp;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Text.Tokenizers;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Training;

/// <summary>What a language-model evaluation pass measured.</summary>
/// <param name="Tokens">Predicted tokens.</param>
/// <param name="Bytes">UTF-8 bytes those tokens stand for.</param>
/// <param name="Nats">Total negative log-likelihood in nats.</param>
public sealed record LanguageModelEvaluation(long Tokens, long Bytes, double Nats)
{
    /// <summary>Mean cross-entropy per token (nats).</summary>
    public double Loss => Nats / Tokens;

    /// <summary>Bits per byte: total bits over total bytes, comparable across tokenizers.</summary>
    public double BitsPerByte => Nats / Math.Log(2) / Bytes;

    public double Perplexity => Math.Exp(Loss);
}

/// <summary>
/// Causal language modelling for the training engine: the model maps tokens [B,T] to logits [B,T,V], the loss is the
/// mean cross-entropy over all B·T next-token targets, and evaluation reports that loss and bits per byte. For a
/// byte-level vocabulary every token is one byte, so bits per byte is loss / ln 2; otherwise the bytes are counted by
/// decoding each evaluation window's targets with the tokenizer. Each evaluation window starts from the empty context
/// (both models alike), unlike <see cref="TextEvaluation"/>, where RWKV carries its state from window to window.
/// </summary>
public sealed class LanguageModelTask : ITrainingTask
{
    private readonly ITokenizer? tokenizer;

    /// <param name="tokenizer">The tokenizer of the data; null or <see cref="ByteTokenizer"/> means one byte per token.</param>
    public LanguageModelTask(ITokenizer? tokenizer = null)
    {
        this.tokenizer = tokenizer is ByteTokenizer ? null : tokenizer;
    }

    public IReadOnlyList<string> ReportedMetrics => ["loss", "bpb"];

    public Tensor Loss(Tensor outputs, Tensor targets) => LanguageModelLoss.CrossEntropy(outputs, targets);

    public TaskEvaluation Evaluate(nn.Module<Tensor, Tensor> model, IBatchSource source, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        bool wasTraining = model.training;
        model.eval();
        double nats = 0;
        long tokens = 0, bytes = 0;
        try
        {
            using var noGrad = no_grad();
            foreach (var batch in source.GetBatches(0))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    var logits = model.call(batch.Inputs.to(device));                             // [B,T,V]
                    var flat = logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32);       // [B·T,V]
                    var targets = batch.Targets.to(device).reshape(-1);                          // [B·T]
                    nats += nn.functional.cross_entropy(flat, targets, reduction: nn.Reduction.Sum).to(ScalarType.Float64).item<double>();
                    tokens += targets.numel();
                    bytes += tokenizer is null ? targets.numel() : BytesOf(batch.Targets);
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        if (tokens == 0)
            throw new InvalidOperationException("the evaluation source yielded no tokens");
        var r = new LanguageModelEvaluation(tokens, bytes, nats);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { ["loss"] = r.Loss, ["bpb"] = r.BitsPerByte };
        return new TaskEvaluation(metrics, tokens, r);
    }

    public IReadOnlyDictionary<string, object?> WriteFinal(RunFolder folder, TaskEvaluation? test)
    {
        var r = test?.Report as LanguageModelEvaluation;
        return new Dictionary<string, object?>
        {
            ["test_loss"] = r?.Loss,
            ["test_bpb"] = r?.BitsPerByte,
            ["test_perplexity"] = r?.Perplexity,
            ["test_tokens"] = r?.Tokens,
            ["test_bytes"] = r?.Bytes,
        };
    }

    /// <summary>UTF-8 bytes of each row of targets [B,T], decoded row by row.</summary>
    private long BytesOf(Tensor targets)
    {
        long total = 0;
        var ids = targets.data<long>().ToArray();
        long t = targets.shape[1];
        for (long row = 0; row < targets.shape[0]; row++)
            total += Encoding.UTF8.GetByteCount(tokenizer!.Decode(ids.Skip((int)(row * t)).Take((int)t).Select(i => (int)i).ToList()));
        return total;
    }
}
