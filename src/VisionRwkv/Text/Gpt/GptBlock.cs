// Port of Block, karpathy/nanoGPT model.py @3adf61e.
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>Pre-norm transformer block (keys <c>transformer.h.{i}.ln_1/attn/ln_2/mlp</c>).</summary>
public sealed class GptBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly GptMlp mlp;

    public GptBlock(GptConfig cfg) : base(nameof(GptBlock))
    {
        ln_1 = nn.LayerNorm(cfg.NEmbd);
        attn = new CausalSelfAttention(cfg);
        ln_2 = nn.LayerNorm(cfg.NEmbd);
        mlp = new GptMlp(cfg);
        RegisterComponents();
    }

    /// <summary>[B,T,C] -> [B,T,C].</summary>
    public override Tensor forward(Tensor x) => Forward(x, null, 0);

    /// <summary>As <see cref="forward"/>, after the tokens cached in <paramref name="cache"/>.</summary>
    public Tensor Forward(Tensor x, GptKvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(attn.Forward(ln_1.call(x), cache, layer));
        x = x.Plus(mlp.call(ln_2.call(x)));
        return x.MoveToOuterDisposeScope();
    }
}
