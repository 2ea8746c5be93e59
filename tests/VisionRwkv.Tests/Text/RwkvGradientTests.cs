using VisionRwkv.Text;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

/// <summary>
/// Gradients of the parallel mode (float32: the fused CPU WKV kernel's analytic backward; float64: autograd through
/// the chunked tensor ops) against float64 autograd of <see cref="PlainLoopRwkv"/>, a token-by-token loop written
/// from the formulas without the model's code or the WKV core.
/// </summary>
public class RwkvGradientTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 2e-5)]
    public void Parallel_mode_gradients_match_float64_autograd_of_a_plain_loop(ScalarType dtype, double tol)
    {
        const int B = 2, T = 48;
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 11, dtype);
        model.train();
        using var scope = NewDisposeScope();
        var tokens = TextTestModels.Tokens(B, T, model.VocabSize, seed: 12);
        var targets = TextTestModels.Tokens(B, T, model.VocabSize, seed: 13);

        var loss = LanguageModelLoss.CrossEntropy(model.call(tokens), targets);
        loss.backward();

        var reference = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to(ScalarType.Float64).requires_grad_());
        var refLoss = nn.functional.cross_entropy(PlainLoopRwkv.Logits(reference, TextTestModels.Small, tokens).reshape(-1, model.VocabSize), targets.reshape(-1));
        refLoss.backward();

        double lossErr = Math.Abs(loss.to(ScalarType.Float64).item<double>() - refLoss.item<double>());
        Assert.True(lossErr < tol, $"loss differs by {lossErr:E3}");
        double worst = 0;
        string worstName = "";
        foreach (var (name, p) in model.named_parameters())
        {
            var g = p.grad;
            Assert.NotNull(g);
            var expected = reference[name].grad!;
            double scale = Math.Max(1e-3, expected.abs().max().item<double>());
            double err = (g.to(ScalarType.Float64) - expected).abs().max().item<double>() / scale;
            Assert.True(expected.abs().max().item<double>() > 0, $"{name}: zero reference gradient, the test would not see a bug there");
            if (err > worst) (worst, worstName) = (err, name);
        }
        output.WriteLine($"{dtype}: worst max|g - g_ref| / max|g_ref| = {worst:E2} ({worstName}); loss error {lossErr:E2}");
        Assert.True(worst < tol, $"{worstName}: relative gradient error {worst:E3}");
    }
}

/// <summary>
/// RWKV-4 written as plainly as possible for autograd in float64: a loop over tokens, per layer the token shift as
/// "the previous token's normalised input", LayerNorm from its definition, and the WKV as running sums
/// num ← e^{-w}·num + e^{k}·v, den ← e^{-w}·den + e^{k} with y = (num + e^{u+k}·v)/(den + e^{u+k}) — no max tracking
/// (fine for the moderate random weights of the tests), no WKV core, no model code.
/// </summary>
internal static class PlainLoopRwkv
{
    public static Tensor Logits(IReadOnlyDictionary<string, Tensor> p, RwkvConfig cfg, Tensor tokens)
    {
        long B = tokens.shape[0], T = tokens.shape[1], C = cfg.NEmbd;
        int L = cfg.NLayer;
        var prevA = new Tensor[L];
        var prevF = new Tensor[L];
        var num = new Tensor[L];
        var den = new Tensor[L];
        for (int l = 0; l < L; l++)
        {
            prevA[l] = zeros(B, C, ScalarType.Float64);
            prevF[l] = zeros(B, C, ScalarType.Float64);
            num[l] = zeros(B, C, ScalarType.Float64);
            den[l] = zeros(B, C, ScalarType.Float64);
        }
        var outputs = new List<Tensor>();
        for (long t = 0; t < T; t++)
        {
            var x = p["emb.weight"].index_select(0, tokens[.., t]);              // [B,C]
            for (int l = 0; l < L; l++)
            {
                string b = $"blocks.{l}.";
                if (l == 0) x = Norm(x, p[b + "ln0.weight"], p[b + "ln0.bias"]);
                var a = Norm(x, p[b + "ln1.weight"], p[b + "ln1.bias"]);
                var k = Mix(a, prevA[l], p[b + "att.time_mix_k"]).matmul(p[b + "att.key.weight"].t());
                var v = Mix(a, prevA[l], p[b + "att.time_mix_v"]).matmul(p[b + "att.value.weight"].t());
                var r = Mix(a, prevA[l], p[b + "att.time_mix_r"]).matmul(p[b + "att.receptance.weight"].t()).sigmoid();
                var w = p[b + "att.time_decay"].exp();
                var eu = (p[b + "att.time_first"] + k).exp();
                var wkv = (num[l] + eu * v) / (den[l] + eu);
                num[l] = (-w).exp() * num[l] + k.exp() * v;
                den[l] = (-w).exp() * den[l] + k.exp();
                prevA[l] = a;
                x = x + (r * wkv).matmul(p[b + "att.output.weight"].t());
                var f = Norm(x, p[b + "ln2.weight"], p[b + "ln2.bias"]);
                var kk = Mix(f, prevF[l], p[b + "ffn.time_mix_k"]).matmul(p[b + "ffn.key.weight"].t()).relu().square();
                var rr = Mix(f, prevF[l], p[b + "ffn.time_mix_r"]).matmul(p[b + "ffn.receptance.weight"].t()).sigmoid();
                prevF[l] = f;
                x = x + rr * kk.matmul(p[b + "ffn.value.weight"].t());
            }
            outputs.Add(Norm(x, p["ln_out.weight"], p["ln_out.bias"]).matmul(p["head.weight"].t()));
        }
        return stack(outputs, 1);                                                // [B,T,V]
    }

    private static Tensor Mix(Tensor x, Tensor prev, Tensor mix)
    {
        var m = mix.reshape(-1);
        return x * m + prev * (1 - m);
    }

    private static Tensor Norm(Tensor x, Tensor weight, Tensor bias)
    {
        var mean = x.mean([-1], keepdim: true);
        var variance = (x - mean).square().mean([-1], keepdim: true);
        return (x - mean) / (variance + 1e-5).sqrt() * weight + bias;
    }
}
