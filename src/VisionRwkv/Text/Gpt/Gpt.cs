// Port of GPT, karpathy/nanoGPT model.py @3adf61e: the quadratic-attention baseline for the RWKV-4 language model.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>
/// A causal GPT with nanoGPT's keys. The output head is tied to <c>transformer.wte</c>, as in nanoGPT; its
/// <c>lm_head.weight</c> key (the same tensor there) is not a separate parameter here. Generation keeps a key/value
/// cache (<see cref="GptKvCache"/>), so each new token costs attention over everything before it.
/// </summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>, ILanguageModel
{
    private readonly GptTransformer transformer;

    public Gpt(GptConfig config, string name = "gpt") : base(nameof(Gpt))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Name = name;
        transformer = new GptTransformer(config);
        RegisterComponents();
        using (no_grad())
        {
            // nanoGPT _init_weights: N(0, 0.02) weights, zero biases; residual projections scaled by 1/√(2·n_layer).
            foreach (var (key, p) in named_parameters())
            {
                if (key.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
                else if (key.Contains(".ln_", StringComparison.Ordinal)) p.fill_(1);
                else if (key.EndsWith("c_proj.weight", StringComparison.Ordinal)) nn.init.normal_(p, 0, 0.02 / Math.Sqrt(2.0 * config.NLayer));
                else nn.init.normal_(p, 0, 0.02);
            }
        }
    }

    public GptConfig Config { get; }

    public string Name { get; }

    public int VocabSize => Config.VocabSize;

    public long? MaxContext => Config.BlockSize;

    public nn.Module<Tensor, Tensor> Module => this;

    /// <summary>tokens [B,T] (int64, T ≤ block_size) -> logits [B,T,V].</summary>
    public override Tensor forward(Tensor tokens)
    {
        CheckLength(0, tokens.shape[^1]);
        using var scope = NewDisposeScope();
        var x = transformer.call(tokens);                                       // [B,T,C]
        return nn.functional.linear(x, transformer.TokenEmbedding).MoveToOuterDisposeScope();   // [B,T,V]
    }

    /// <summary>A cache for <paramref name="batch"/> sequences with room for <paramref name="capacity"/> tokens before it grows.</summary>
    public GptKvCache NewCache(long batch, long capacity = 256)
    {
        var w = transformer.TokenEmbedding;
        return new GptKvCache(Config.NLayer, batch, Config.NHead, Config.NEmbd / Config.NHead, capacity, w.dtype, w.device);
    }

    /// <summary>tokens [B,T] after the cached ones (a new cache when null) -> logits [B,T,V]; the cache is extended in place.</summary>
    public (Tensor Logits, GptKvCache Cache) Forward(Tensor tokens, GptKvCache? cache)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"{Name}: expected int64 token ids [B,T]; got {tokens.dtype} [{string.Join(",", tokens.shape)}]", nameof(tokens));
        cache ??= NewCache(tokens.shape[0], Math.Max(256, tokens.shape[1]));
        CheckLength(cache.Tokens, tokens.shape[1]);
        using var scope = NewDisposeScope();
        var x = transformer.Forward(tokens, cache);                             // [B,T,C]
        return (nn.functional.linear(x, transformer.TokenEmbedding).MoveToOuterDisposeScope(), cache);
    }

    (Tensor Logits, ILanguageModelState State) ILanguageModel.Prefill(Tensor tokens, ILanguageModelState? state) =>
        Forward(tokens, AsCache(state));

    (Tensor Logits, ILanguageModelState State) ILanguageModel.Step(Tensor tokens, ILanguageModelState? state)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 1)
            throw new ArgumentException($"{Name}: Step expects token ids [B]; got [{string.Join(",", tokens.shape)}]", nameof(tokens));
        using var scope = NewDisposeScope();
        var (logits, cache) = Forward(tokens.unsqueeze(1), AsCache(state));     // [B,1,V]
        return (logits.squeeze(1).MoveToOuterDisposeScope(), cache);
    }

    private static GptKvCache? AsCache(ILanguageModelState? state) => state switch
    {
        null => null,
        GptKvCache c => c,
        _ => throw new ArgumentException($"a GPT continues from a GptKvCache, not a {state.GetType().Name}", nameof(state)),
    };

    private void CheckLength(long past, long t)
    {
        if (past + t > Config.BlockSize)
            throw new ArgumentException($"{Name}: {past + t} tokens of context exceed block_size {Config.BlockSize} (the learned positions)");
    }
}
