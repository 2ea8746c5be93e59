using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>
/// nanoGPT's <c>transformer</c> ModuleDict as a module, so that keys read <c>transformer.wte.weight</c>,
/// <c>transformer.h.0.attn.c_attn.weight</c>, <c>transformer.ln_f.weight</c> as in its checkpoints.
/// </summary>
public sealed class GptTransformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding wte;                 // [V,C] token embeddings, also the output head (tied)
    private readonly Embedding wpe;                 // [block_size,C] learned positions
    private readonly ModuleList<GptBlock> h;
    private readonly LayerNorm ln_f;

    public GptTransformer(GptConfig cfg) : base(nameof(GptTransformer))
    {
        wte = nn.Embedding(cfg.VocabSize, cfg.NEmbd);
        wpe = nn.Embedding(cfg.BlockSize, cfg.NEmbd);
        h = new ModuleList<GptBlock>();
        for (int i = 0; i < cfg.NLayer; i++) h.Add(new GptBlock(cfg));
        ln_f = nn.LayerNorm(cfg.NEmbd);
        RegisterComponents();
    }

    internal Parameter TokenEmbedding => wte.weight!;

    /// <summary>tokens [B,T] -> final normalised features [B,T,C] (positions from 0).</summary>
    public override Tensor forward(Tensor tokens) => Forward(tokens, null);

    /// <summary>tokens [B,T] at positions cache.Tokens.. -> features [B,T,C]; appends to the cache.</summary>
    public Tensor Forward(Tensor tokens, GptKvCache? cache)
    {
        using var scope = NewDisposeScope();
        long past = cache?.Tokens ?? 0, t = tokens.shape[1];
        var pos = arange(past, past + t, dtype: ScalarType.Int64, device: tokens.device);   // [T]
        var x = wte.call(tokens).Plus(wpe.call(pos));                                       // [B,T,C]
        for (int i = 0; i < h.Count; i++) x = h[i].Forward(x, cache, i);
        cache?.Advance(t);
        return ln_f.call(x).MoveToOuterDisposeScope();
    }
}
