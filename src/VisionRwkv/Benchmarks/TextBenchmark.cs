using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using VisionRwkv.Common;
using VisionRwkv.Text;
using VisionRwkv.Text.Gpt;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Benchmarks;

/// <summary>What <see cref="TextBenchmark"/> runs.</summary>
/// <param name="Rwkv">The RWKV-4 model's shape.</param>
/// <param name="Gpt">The GPT's shape (its block_size is raised to the longest context or sequence measured).</param>
/// <param name="Contexts">Tokens already in context when generation is timed.</param>
/// <param name="Steps">Timed single-token steps per context (after <see cref="WarmupSteps"/>).</param>
/// <param name="WarmupSteps">Untimed steps first.</param>
/// <param name="SeqLens">Training sequence lengths.</param>
/// <param name="TokensPerStep">Tokens per training step: batch = TokensPerStep / seq_len (at least 1).</param>
/// <param name="TrainIterations">Timed training steps per length (median reported), after one warm-up step.</param>
public sealed record TextBenchConfig(
    RwkvConfig Rwkv, GptConfig Gpt, IReadOnlyList<int> Contexts, int Steps, int WarmupSteps,
    IReadOnlyList<int> SeqLens, int TokensPerStep, int TrainIterations)
{
    /// <summary>The comparison: rwkv4_byte_6x256 against gpt_byte_6x256 (12C² weights per block each).</summary>
    public static TextBenchConfig Default => new(RwkvConfig.Byte6x256, GptConfig.Byte6x256, [128, 1024, 4096, 16384], 16, 3,
        [256, 1024, 2048], 4096, 3);
}

/// <summary>One measurement; the kind says which fields are set.</summary>
public sealed record TextBenchRecord
{
    /// <summary>"generate" or "train".</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    /// <summary>generate: tokens in context before the timed steps.</summary>
    [JsonPropertyName("context")] public int? Context { get; init; }
    /// <summary>generate: median milliseconds per new token.</summary>
    [JsonPropertyName("ms_per_token")] public double? MsPerToken { get; init; }
    /// <summary>generate: bytes the model carries from token to token (RWKV state, or the GPT's filled KV cache).</summary>
    [JsonPropertyName("state_bytes")] public long? StateBytes { get; init; }
    /// <summary>generate: resident set of the process after the timed steps (everything: weights, caches, runtime).</summary>
    [JsonPropertyName("rss_mb")] public double? RssMb { get; init; }
    /// <summary>generate: seconds to ingest the context in parallel mode.</summary>
    [JsonPropertyName("prefill_s")] public double? PrefillSeconds { get; init; }
    /// <summary>train: sequence length and batch.</summary>
    [JsonPropertyName("seq_len")] public int? SeqLen { get; init; }
    [JsonPropertyName("batch")] public int? Batch { get; init; }
    /// <summary>train: tokens per second of forward, cross-entropy, backward and a fused AdamW step.</summary>
    [JsonPropertyName("tokens_per_s")] public double? TokensPerSecond { get; init; }
    [JsonPropertyName("step_s")] public IReadOnlyList<double>? StepSeconds { get; init; }
    [JsonPropertyName("params")] public long Params { get; init; }
    /// <summary>Parameters outside the embeddings and positions (the block weights, LayerNorms, biases).</summary>
    [JsonPropertyName("block_params")] public long BlockParams { get; init; }
}

/// <summary>
/// The linear-versus-quadratic claim, measured: per-token generation time and carried memory against the context
/// length (RWKV recurrent mode against the GPT with a key/value cache), and training throughput at several
/// sequence lengths, both models in one process on the same machine. CPU, float32.
/// </summary>
public static class TextBenchmark
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// Generation rows, one per model and context. Every context is ingested first (parallel mode, 1024 tokens per
    /// call; the states stay alive), then single-token steps of every (model, context) pair are timed in interleaved
    /// rounds, so that a shared machine whose speed drifts slows every pair alike and the ratios between contexts stay
    /// fair. <paramref name="report"/> sees each row.
    /// </summary>
    public static List<TextBenchRecord> Generation(TextBenchConfig config, Action<TextBenchRecord>? report = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        int longest = config.Contexts.Max() + config.WarmupSteps + config.Steps + 1;
        manual_seed(0);
        var models = new ILanguageModel[]
        {
            new RwkvLm(config.Rwkv, "rwkv4"),
            new Gpt(config.Gpt with { BlockSize = Math.Max(config.Gpt.BlockSize, longest) }, "gpt"),
        };
        var sessions = new List<(ILanguageModel Model, int Context, Box State, double Prefill)>();
        try
        {
            using var noGrad = no_grad();
            foreach (var model in models)
            {
                model.Module.eval();
                foreach (int context in config.Contexts)
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var state = Prefill(model, context);
                    sessions.Add((model, context, new Box(state), clock.Elapsed.TotalSeconds));
                }
            }
            var bodies = sessions.Select(s => (Action)(() => s.State.Step(s.Model))).ToList();
            var seconds = Timing.MeasureInterleaved(CPU, config.WarmupSteps, config.Steps, bodies);
            double? rss = ProcessMemoryProbe.IsAvailable ? ProcessMemoryProbe.Read().PeakRssBytes / 1048576.0 : null;
            var records = new List<TextBenchRecord>();
            for (int i = 0; i < sessions.Count; i++)
            {
                var (model, context, box, prefill) = sessions[i];
                var r = new TextBenchRecord
                {
                    Kind = "generate", Model = model.Name, Context = context, MsPerToken = Timing.Median(seconds[i]) * 1000,
                    StateBytes = box.State!.Bytes, RssMb = rss, PrefillSeconds = prefill,
                    Params = Count(model, all: true), BlockParams = Count(model, all: false),
                };
                records.Add(r);
                report?.Invoke(r);
            }
            return records;
        }
        finally
        {
            foreach (var s in sessions) s.State.State?.Dispose();
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>Ingests <paramref name="context"/> random tokens, 1024 per parallel call; returns the state after them.</summary>
    private static ILanguageModelState Prefill(ILanguageModel model, int context)
    {
        using var tokens = randint(0, model.VocabSize, new long[] { 1, context }, generator: new Generator((ulong)context), dtype: ScalarType.Int64);
        ILanguageModelState? state = null;
        for (int start = 0; start < context; start += 1024)
        {
            using var scope = NewDisposeScope();
            var (_, next) = model.Prefill(tokens.narrow(1, start, Math.Min(1024, context - start)), state);
            if (!ReferenceEquals(next, state)) { next.MoveToOuterDisposeScope(); state?.Dispose(); }
            state = next;
        }
        return state!;
    }

    /// <summary>A state that single-token steps advance (the caller's dispose scope frees each step's temporaries).</summary>
    private sealed class Box(ILanguageModelState state)
    {
        private long _token = 1;

        public ILanguageModelState? State { get; private set; } = state;

        public void Step(ILanguageModel model)
        {
            using var noGrad = no_grad();
            var (logits, next) = model.Step(tensor(new[] { _token }), State);
            _token = logits[0].argmax().item<long>();                                // a real dependency on the output
            if (!ReferenceEquals(next, State))
            {
                next.MoveToOuterDisposeScope();
                State!.Dispose();
            }
            State = next;
        }
    }

    /// <summary>Training rows: both models at each sequence length, timed in interleaved rounds (fair ratios).</summary>
    public static List<TextBenchRecord> Training(TextBenchConfig config, Action<TextBenchRecord>? report = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var records = new List<TextBenchRecord>();
        int longest = config.SeqLens.Max();
        foreach (int t in config.SeqLens)
        {
            int batch = Math.Max(1, config.TokensPerStep / t);
            manual_seed(0);
            using var rwkv = new RwkvLm(config.Rwkv, "rwkv4");
            using var gpt = new Gpt(config.Gpt with { BlockSize = Math.Max(config.Gpt.BlockSize, longest) }, "gpt");
            var models = new ILanguageModel[] { rwkv, gpt };
            var gen = new Generator(2);
            using var x = randint(0, config.Rwkv.VocabSize, new long[] { batch, t }, generator: gen, dtype: ScalarType.Int64);
            using var y = randint(0, config.Rwkv.VocabSize, new long[] { batch, t }, generator: gen, dtype: ScalarType.Int64);
            var optimizers = models.Select(m =>
            {
                m.Module.train();
                return new FusedAdamW(m.Module.parameters(), lr: 1e-4);
            }).ToArray();
            try
            {
                var bodies = models.Select((m, i) => (Action)(() =>
                {
                    optimizers[i].zero_grad();
                    var loss = LanguageModelLoss.CrossEntropy(m.Module.call(x), y);
                    loss.backward();
                    optimizers[i].step();
                })).ToList();
                var seconds = Timing.MeasureInterleaved(CPU, warmup: 1, config.TrainIterations, bodies);
                for (int i = 0; i < models.Length; i++)
                {
                    var r = new TextBenchRecord
                    {
                        Kind = "train", Model = models[i].Name, SeqLen = t, Batch = batch,
                        TokensPerSecond = batch * t / Timing.Median(seconds[i]), StepSeconds = seconds[i],
                        Params = Count(models[i], all: true), BlockParams = Count(models[i], all: false),
                    };
                    records.Add(r);
                    report?.Invoke(r);
                }
            }
            finally
            {
                foreach (var o in optimizers) o.Dispose();
            }
        }
        return records;
    }

    /// <summary>Writes records as a JSON list, atomically.</summary>
    public static void WriteJson(string path, IReadOnlyList<TextBenchRecord> records) =>
        AtomicFile.Write(path, s => JsonSerializer.Serialize(s, records, JsonOptions));

    private static long Count(ILanguageModel m, bool all) => m.Module.named_parameters()
        .Where(p => all || !(p.name is "emb.weight" or "head.weight" || p.name.StartsWith("transformer.wte", StringComparison.Ordinal) || p.name.StartsWith("transformer.wpe", StringComparison.Ordinal)))
        .Sum(p => p.parameter.numel());
}
