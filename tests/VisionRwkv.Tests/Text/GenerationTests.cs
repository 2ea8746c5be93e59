using VisionRwkv.Text;
using VisionRwkv.Text.Generation;
using VisionRwkv.Text.Tokenizers;

namespace VisionRwkv.Tests.Text;

public class GenerationTests
{
    private static float[] Logits(params float[] values) => values;

    [Fact]
    public void Temperature_zero_and_top_k_one_pick_the_most_likely_token()
    {
        Assert.Equal(2, new Sampler(new SamplingOptions { Temperature = 0 }).Next(Logits(0, 1, 3, 2)));
        Assert.Equal(2, new Sampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 1 }).Next(Logits(0, 1, 3, 2)));
        Assert.Equal(2, new Sampler(new SamplingOptions { TopP = 0.01, Seed = 1 }).Next(Logits(0, 1, 3, 2)));
    }

    [Fact]
    public void Banned_tokens_are_never_drawn_and_penalties_push_repeated_tokens_down()
    {
        var ban = new Sampler(new SamplingOptions { Temperature = 0, BanTokens = [2] });
        Assert.Equal(3, ban.Next(Logits(0, 1, 3, 2)));
        var penalised = new Sampler(new SamplingOptions { Temperature = 0, PresencePenalty = 0.5, FrequencyPenalty = 0.3 });
        Assert.Equal(2, penalised.Next(Logits(0, 1, 3, 2)));                      // 3 - 0 = 3 > 2
        Assert.Equal(2, penalised.Next(Logits(0, 1, 3, 2)));                      // 3 - 0.8 = 2.2 > 2
        Assert.Equal(3, penalised.Next(Logits(0, 1, 3, 2)));                      // 3 - 1.1 = 1.9 < 2
        Assert.Equal(2, penalised.Counts[2]);
    }

    [Fact]
    public void A_seed_makes_sampling_repeatable_and_top_k_limits_the_choices()
    {
        var logits = Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray();
        int[] Draw(int seed, int topK)
        {
            var s = new Sampler(new SamplingOptions { Seed = seed, TopK = topK });
            return Enumerable.Range(0, 200).Select(_ => s.Next(logits)).ToArray();
        }
        Assert.Equal(Draw(7, 0), Draw(7, 0));
        Assert.NotEqual(Draw(7, 0), Draw(8, 0));
        var top3 = logits.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(3).Select(p => p.i).ToHashSet();
        Assert.All(Draw(9, 3), t => Assert.Contains(t, top3));
        Assert.Equal(3, Draw(9, 3).Distinct().Count());
    }

    [Theory]
    [InlineData("hello wor", "world", "hello ", "wor", false)]
    [InlineData("hello world!", "world", "hello ", "", true)]
    [InlineData("abc", "xyz", "abc", "", false)]
    [InlineData("ab\n", "\n\n", "ab", "\n", false)]
    public void Held_text_waits_only_while_it_could_become_a_stop_string(string held, string stop, string emit, string rest, bool stopped) =>
        Assert.Equal((emit, rest, stopped), TextGenerator.SplitAtStop(held, [stop]));

    [Fact]
    public void Generation_is_repeatable_streams_the_same_text_and_stops_before_a_stop_string()
    {
        using var model = TextTestModels.RandomRwkv(new RwkvConfig { NLayer = 2, NEmbd = 32, DimFfn = 64, VocabSize = 256 }, seed: 21);
        var gen = new TextGenerator(model, new ByteTokenizer());
        // Only printable ASCII, so that every token is a whole character and the text has stable positions.
        var ban = Enumerable.Range(0, 256).Where(b => b < 32 || b > 126).ToList();
        var options = new SamplingOptions { Seed = 5, MaxTokens = 40, BanTokens = ban, Temperature = 0.8 };
        var pieces = gen.Stream("The ", options).ToList();
        var text = string.Concat(pieces);
        Assert.Equal(40, text.Length);
        Assert.Equal(40, gen.Last!.NewTokens);
        Assert.Equal(StopReason.MaxTokens, gen.Last.Reason);
        Assert.Equal(text, gen.Complete("The ", options));
        var stop = text.Substring(10, 3);
        var stopped = gen.Complete("The ", options with { StopStrings = [stop] });
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped);
        Assert.Equal(StopReason.StopString, gen.Last!.Reason);
    }

    [Fact]
    public void A_gpt_stops_when_its_context_is_full()
    {
        using var model = new VisionRwkv.Text.Gpt.Gpt(VisionRwkv.Text.Gpt.GptConfig.Byte2x64 with { BlockSize = 16 });
        var gen = new TextGenerator(model, new ByteTokenizer());
        var text = gen.Complete("0123456789", new SamplingOptions { Seed = 1, MaxTokens = 50 });
        Assert.Equal(StopReason.ContextFull, gen.Last!.Reason);
        Assert.Equal(7, gen.Last.NewTokens);                                      // positions 10..15, plus the one sampled from position 15
        Assert.NotNull(text);
    }
}
