using TorchSharp;
using VisionRwkv.Text;
using VisionRwkv.Text.Gpt;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

public class GptTests
{
    private static Gpt RandomGpt(ScalarType dtype = ScalarType.Float64)
    {
        var model = new Gpt(GptConfig.Byte2x64 with { VocabSize = 40 });
        TextTestModels.Randomize(model, seed: 31);
        model.to(dtype);
        model.eval();
        return model;
    }

    [Fact]
    public void Cached_steps_give_the_logits_of_the_full_causal_forward()
    {
        using var model = RandomGpt();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(2, 30, 40, seed: 32);
        var full = model.call(tokens);                                           // [B,T,V]
        var (prompt, cache) = model.Forward(tokens.narrow(1, 0, 12), null);
        using (cache)
        {
            double err = (prompt - full.narrow(1, 0, 12)).abs().max().item<double>();
            ILanguageModel lm = model;
            ILanguageModelState state = cache;
            for (int t = 12; t < 30; t++)
            {
                var (logits, next) = lm.Step(tokens[.., t], state);
                Assert.Same(state, next);                                        // the cache grows in place
                err = Math.Max(err, (logits - full[.., t]).abs().max().item<double>());
            }
            Assert.True(err < 1e-12, $"max |cached - full| = {err:E3}");
            Assert.Equal(30, cache.Tokens);
            Assert.Equal(2L * 2 * 2 * 30 * 64 * 8, cache.Bytes);              // 2 (k,v) · L · B · T · C · 8 bytes
        }
    }

    [Fact]
    public void A_prompt_prefilled_in_two_chunks_uses_the_shifted_causal_mask()
    {
        using var model = RandomGpt();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(1, 25, 40, seed: 33);
        var full = model.call(tokens);
        var (first, cache) = model.Forward(tokens.narrow(1, 0, 9), model.NewCache(1, capacity: 4));   // grows twice
        using (cache)
        {
            var (second, _) = model.Forward(tokens.narrow(1, 9, 16), cache);
            Assert.True((cat([first, second], 1) - full).abs().max().item<double>() < 1e-12);
        }
    }

    [Fact]
    public void Both_models_map_token_ids_to_logits_and_share_the_loss()
    {
        using var scope = NewDisposeScope();
        using var rwkv = new RwkvLm(RwkvConfig.Byte2x64);
        using var gpt = new Gpt(GptConfig.Byte2x64);
        var tokens = TextTestModels.Tokens(3, 17, 256, seed: 34);
        foreach (ILanguageModel m in new ILanguageModel[] { rwkv, gpt })
        {
            var logits = m.Module.call(tokens);
            Assert.Equal(new long[] { 3, 17, 256 }, logits.shape);
            var loss = LanguageModelLoss.CrossEntropy(logits, tokens);
            var expected = nn.functional.cross_entropy(logits.reshape(-1, 256), tokens.reshape(-1));
            Assert.Equal(expected.item<float>(), loss.item<float>(), 6);
            // A fresh model is close to uniform (ln 256 ≈ 5.5), not collapsed or exploding.
            Assert.InRange(loss.item<float>(), 3.5, 8.0);
        }
    }

    [Fact]
    public void A_context_longer_than_the_block_size_is_refused()
    {
        using var model = new Gpt(GptConfig.Byte2x64 with { BlockSize = 8 });
        using var tokens = TextTestModels.Tokens(1, 9, 256, seed: 35);
        var e = Assert.Throws<ArgumentException>(() => model.call(tokens));
        Assert.Contains("block_size 8", e.Message);
    }
}
