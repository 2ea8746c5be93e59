using TorchSharp;
using VisionRwkv.Text;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

/// <summary>Small language models whose every parameter is random and far from its initial value.</summary>
internal static class TextTestModels
{
    /// <summary>3 layers of 16 channels, channel-mix width 40, 50 tokens: every code path, quick to run.</summary>
    public static RwkvConfig Small => new() { NLayer = 3, NEmbd = 16, DimFfn = 40, VocabSize = 50 };

    /// <summary>
    /// An RWKV-4 model with every parameter drawn at random: LayerNorm gains around 1 and non-zero biases, decays
    /// time_decay in [-3, 1.5] (per-step factors from 0.95 to 0.01), bonuses N(0, 0.7²), mixes in (0, 1), projections
    /// of unit gain, embeddings N(0, 1).
    /// </summary>
    public static RwkvLm RandomRwkv(RwkvConfig config, int seed, ScalarType dtype = ScalarType.Float32)
    {
        var model = new RwkvLm(config);
        Randomize(model, seed);
        model.to(dtype);
        model.eval();
        return model;
    }

    public static void Randomize(nn.Module module, int seed)
    {
        var gen = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            var shape = p.shape;
            Tensor value;
            if (name.EndsWith("time_decay", StringComparison.Ordinal)) value = rand(shape, generator: gen) * 4.5 - 3;
            else if (name.EndsWith("time_first", StringComparison.Ordinal)) value = randn(shape, generator: gen) * 0.7;
            else if (name.Contains("time_mix", StringComparison.Ordinal)) value = rand(shape, generator: gen) * 0.9 + 0.05;
            else if (name.Contains("ln", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)) value = 1 + randn(shape, generator: gen) * 0.2;
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) value = randn(shape, generator: gen) * 0.2;
            else if (shape.Length == 2 && !name.StartsWith("emb", StringComparison.Ordinal) && !name.Contains("wte", StringComparison.Ordinal) && !name.Contains("wpe", StringComparison.Ordinal))
                value = randn(shape, generator: gen) / Math.Sqrt(shape[1]);
            else value = randn(shape, generator: gen);
            p.copy_(value);
        }
    }

    /// <summary>Random token ids [B,T] from a seed.</summary>
    public static Tensor Tokens(long b, long t, int vocab, int seed) =>
        randint(0, vocab, new[] { b, t }, generator: new Generator((ulong)seed), dtype: ScalarType.Int64);
}
