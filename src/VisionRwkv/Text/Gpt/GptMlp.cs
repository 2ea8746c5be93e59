// Port of MLP, karpathy/nanoGPT model.py @3adf61e.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Gpt;

/// <summary>The GPT feed-forward: <c>c_proj(gelu(c_fc(x)))</c>, hidden width 4C.</summary>
public sealed class GptMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_fc;
    private readonly Linear c_proj;

    public GptMlp(GptConfig cfg) : base(nameof(GptMlp))
    {
        c_fc = nn.Linear(cfg.NEmbd, 4 * cfg.NEmbd, hasBias: cfg.Bias);
        c_proj = nn.Linear(4 * cfg.NEmbd, cfg.NEmbd, hasBias: cfg.Bias);
        RegisterComponents();
    }

    /// <summary>[B,T,C] -> [B,T,C].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return c_proj.call(nn.functional.gelu(c_fc.call(x))).MoveToOuterDisposeScope();
    }
}
