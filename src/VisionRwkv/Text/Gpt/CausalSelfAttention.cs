// Port of CausalSelfAttention, karpathy/nanoGPT model.py @3adf61e (its flash path), with a key/value cache.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>Multi-head causal self-attention on TorchSharp's fused scaled_dot_product_attention (keys <c>attn.c_attn</c>, <c>attn.c_proj</c>).</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_attn;                 // C -> 3C: q, k, v for all heads
    private readonly Linear c_proj;                 // C -> C
    private readonly int _heads;

    public CausalSelfAttention(GptConfig cfg) : base(nameof(CausalSelfAttention))
    {
        if (cfg.NEmbd % cfg.NHead != 0)
            throw new ArgumentException($"n_embd {cfg.NEmbd} is not a multiple of n_head {cfg.NHead}", nameof(cfg));
        _heads = cfg.NHead;
        c_attn = nn.Linear(cfg.NEmbd, 3 * cfg.NEmbd, hasBias: cfg.Bias);
        c_proj = nn.Linear(cfg.NEmbd, cfg.NEmbd, hasBias: cfg.Bias);
        RegisterComponents();
    }

    /// <summary>x [B,T,C] -> [B,T,C], each token attending to itself and the tokens before it.</summary>
    public override Tensor forward(Tensor x) => Forward(x, null, 0);

    /// <summary>
    /// As <see cref="forward"/>, after the tokens in <paramref name="cache"/> (layer <paramref name="layer"/>): the
    /// new keys and values are appended to it and the queries attend to everything cached plus their own prefix.
    /// </summary>
    public Tensor Forward(Tensor x, GptKvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], c = x.shape[2], hd = c / _heads;
        var qkv = c_attn.call(x).view(b, t, 3, _heads, hd).permute(2, 0, 3, 1, 4);  // [3,B,H,T,D]
        var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        long past = cache?.Tokens ?? 0;
        if (cache is not null) (k, v) = cache.Append(layer, k, v);                   // [B,H,past+T,D]
        Tensor y;
        if (past == 0)
            y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: t > 1);  // [B,H,T,D]
        else if (t == 1)
            y = nn.functional.scaled_dot_product_attention(q, k, v);                // one query sees every cached key
        else
        {
            // Query i (absolute position past+i) sees keys 0..past+i: the causal mask shifted by the cached length.
            var rows = arange(t, device: x.device).view(t, 1) + past;
            var cols = arange(past + t, device: x.device).view(1, past + t);
            y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: cols <= rows);
        }
        y = y.transpose(1, 2).reshape(b, t, c);                                      // [B,T,C]
        return c_proj.call(y).MoveToOuterDisposeScope();
    }
}
