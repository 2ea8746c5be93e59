using VisionRwkv.Common;
using VisionRwkv.Datasets.Loading;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Training;

/// <summary>
/// Batches of a language model over one token array: inputs [B,T] int64 and targets [B,T] int64, the same windows moved
/// one token on. Training draws a fixed number of random windows of T+1 tokens per epoch, batch b of epoch e from
/// <see cref="SeededRng.For"/>(seed, e, b) alone, so a resumed run sees exactly the batches of an uninterrupted one.
/// Evaluation walks the tokens once in non-overlapping windows (every token after the first predicted exactly once);
/// the last, shorter window is a batch of its own.
/// </summary>
public sealed class TextBatchSource : IBatchSource
{
    private readonly int[] tokens;
    private readonly int batchSize;
    private readonly int seqLen;
    private readonly long seed;
    private readonly bool random;
    private readonly List<(int Start, int Length)> windows = [];

    private TextBatchSource(int[] tokens, int batchSize, int seqLen, bool random, int batches, long seed)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        this.tokens = tokens;
        this.batchSize = batchSize;
        this.seqLen = seqLen;
        this.random = random;
        this.seed = seed;
        if (random)
        {
            if (tokens.Length < seqLen + 1)
                throw new ArgumentException($"the training text has {tokens.Length} tokens; windows of {seqLen}+1 need at least {seqLen + 1}", nameof(tokens));
            ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
            BatchCount = batches;
        }
        else
        {
            if (tokens.Length < 2)
                throw new ArgumentException($"an evaluation text needs at least two tokens (has {tokens.Length})", nameof(tokens));
            // Window k predicts tokens kT+1 .. kT+T from tokens kT .. kT+T-1.
            for (int start = 0; start < tokens.Length - 1; start += seqLen)
                windows.Add((start, Math.Min(seqLen, tokens.Length - 1 - start)));
            int full = windows.Count(w => w.Length == seqLen);
            BatchCount = (full + batchSize - 1) / batchSize + (windows.Count > full ? 1 : 0);
        }
    }

    /// <summary><paramref name="batchesPerEpoch"/> batches of <paramref name="batchSize"/> random windows per epoch.</summary>
    public static TextBatchSource Random(int[] tokens, int batchSize, int seqLen, int batchesPerEpoch, long seed) =>
        new(tokens, batchSize, seqLen, random: true, batchesPerEpoch, seed);

    /// <summary>One pass over <paramref name="tokens"/> in non-overlapping windows of <paramref name="seqLen"/>.</summary>
    public static TextBatchSource Sequential(int[] tokens, int batchSize, int seqLen) =>
        new(tokens, batchSize, seqLen, random: false, 0, 0);

    public int BatchCount { get; }

    /// <summary>Tokens in the source.</summary>
    public int TokenCount => tokens.Length;

    /// <summary>Tokens predicted by one pass of a sequential source (all but the first).</summary>
    public long PredictedTokens => windows.Sum(w => (long)w.Length);

    public IEnumerable<Batch> GetBatches(int epoch)
    {
        if (random)
        {
            for (int b = 0; b < BatchCount; b++)
            {
                var rng = SeededRng.For(seed, epoch, b);
                var starts = new int[batchSize];
                for (int i = 0; i < batchSize; i++)
                    starts[i] = rng.NextInt(tokens.Length - seqLen);
                yield return Make(starts, seqLen, b);
            }
        }
        else
        {
            int number = 0;
            var full = windows.Where(w => w.Length == seqLen).Select(w => w.Start).ToList();
            for (int i = 0; i < full.Count; i += batchSize)
                yield return Make(full.Skip(i).Take(batchSize).ToArray(), seqLen, number++);
            if (windows.Count > full.Count)
                yield return Make([windows[^1].Start], windows[^1].Length, number);
        }
    }

    /// <summary>Inputs tokens[s .. s+T-1] and targets tokens[s+1 .. s+T] for every start s.</summary>
    private Batch Make(int[] starts, int length, int number)
    {
        var x = new long[starts.Length * length];
        var y = new long[starts.Length * length];
        for (int r = 0; r < starts.Length; r++)
        {
            for (int t = 0; t < length; t++)
            {
                x[r * length + t] = tokens[starts[r] + t];
                y[r * length + t] = tokens[starts[r] + t + 1];
            }
        }
        return new Batch(tensor(x, [starts.Length, length]), tensor(y, [starts.Length, length]), starts, number);   // [B,T], [B,T]
    }
}
