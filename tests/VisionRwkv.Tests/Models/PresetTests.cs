using TorchSharp;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Models;

public class PresetTests
{
    // Published parameter counts (vision-rwkv.md §3, recomputed from the official code; DeiT paper for ViT).
    [Theory]
    [InlineData("vrwkv_t", 6_155_000)]
    [InlineData("vrwkv_s", 23_820_000)]
    [InlineData("vrwkv_b", 93_650_000)]
    [InlineData("vrwkv_l", 334_880_000)]
    [InlineData("vit_t", 5_720_000)]
    public void Preset_parameter_count_is_within_one_percent_of_the_published_one(string name, long published)
    {
        using var model = ModelRegistry.Create(name);
        long count = model.parameters().Sum(p => p.numel());
        Assert.InRange(count, published * 0.99, published * 1.01);
    }

    public static TheoryData<string> AllPresets()
    {
        var data = new TheoryData<string>();
        foreach (var e in ModelRegistry.All) data.Add(e.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllPresets))]
    public void Every_preset_runs_a_batch_forward_at_its_native_size(string name)
    {
        var entry = ModelRegistry.Get(name);
        using var model = entry.Create(null);
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var d = entry.Data;
        long batch = d.Height >= 384 ? 1 : 2;
        var x = randn(batch, d.Channels, d.Height, d.Width);
        var logits = model.call(x);
        var classifier = (IImageClassifier)model;
        Assert.Equal(new[] { batch, (long)classifier.NumClasses }, logits.shape);
        Assert.False(logits.isnan().any().item<bool>(), "logits contain NaN");
        Assert.True(logits.isfinite().all().item<bool>(), "logits contain Inf");
    }

    [Fact]
    public void Vrwkv_t_state_dict_has_exactly_the_official_keys_and_shapes()
    {
        // The official mmcls ImageClassifier layout (vision-rwkv.md §6), written out from the spec.
        var expected = new Dictionary<string, long[]>
        {
            ["backbone.pos_embed"] = [1, 196, 192],
            ["backbone.patch_embed.projection.weight"] = [192, 3, 16, 16],
            ["backbone.patch_embed.projection.bias"] = [192],
            ["backbone.layers.0.ln0.weight"] = [192],
            ["backbone.layers.0.ln0.bias"] = [192],
            ["backbone.ln1.weight"] = [192],
            ["backbone.ln1.bias"] = [192],
            ["head.fc.weight"] = [1000, 192],
            ["head.fc.bias"] = [1000],
        };
        for (int i = 0; i < 12; i++)
        {
            string p = $"backbone.layers.{i}.";
            foreach (var ln in new[] { "ln1", "ln2" })
            {
                expected[p + ln + ".weight"] = [192];
                expected[p + ln + ".bias"] = [192];
            }
            expected[p + "att.spatial_decay"] = [192];
            expected[p + "att.spatial_first"] = [192];
            foreach (var m in new[] { "k", "v", "r" }) expected[p + "att.spatial_mix_" + m] = [1, 1, 192];
            foreach (var lin in new[] { "key", "value", "receptance", "output" }) expected[p + $"att.{lin}.weight"] = [192, 192];
            foreach (var m in new[] { "k", "r" }) expected[p + "ffn.spatial_mix_" + m] = [1, 1, 192];
            expected[p + "ffn.key.weight"] = [768, 192];
            expected[p + "ffn.receptance.weight"] = [192, 192];
            expected[p + "ffn.value.weight"] = [192, 768];
        }

        using var model = ModelRegistry.Create("vrwkv_t");
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

        Assert.Empty(actual.Keys.Except(expected.Keys));   // nothing unexpected
        Assert.Empty(expected.Keys.Except(actual.Keys));   // nothing missing
        foreach (var (key, shape) in expected)
            Assert.True(shape.SequenceEqual(actual[key]), $"{key}: expected [{string.Join(",", shape)}], got [{string.Join(",", actual[key])}]");
    }

    [Fact]
    public void Vrwkv_s_adds_layer_scale_and_vrwkv_l_adds_key_norm_and_an_mlp_head()
    {
        using var s = ModelRegistry.Create("vrwkv_s");
        var sk = s.state_dict().Keys.ToHashSet();
        Assert.Contains("backbone.layers.3.gamma1", sk);
        Assert.Contains("backbone.layers.3.gamma2", sk);

        using var l = ModelRegistry.Create("vrwkv_l");
        var lk = l.state_dict();
        Assert.Equal(new long[] { 1, 144, 1024 }, lk["backbone.pos_embed"].shape);
        Assert.Equal(new long[] { 1024 }, lk["backbone.layers.5.att.key_norm.weight"].shape);
        Assert.Equal(new long[] { 4096 }, lk["backbone.layers.5.ffn.key_norm.weight"].shape);
        Assert.Equal(new long[] { 3072, 1024 }, lk["head.0.weight"].shape);
        Assert.Equal(new long[] { 1000, 3072 }, lk["head.2.weight"].shape);
    }

    [Fact]
    public void Fancy_init_matches_the_official_schedule_at_the_ends_of_the_channel_range()
    {
        using var model = ModelRegistry.Create("vrwkv_t");
        var sd = model.state_dict();
        var decay0 = sd["backbone.layers.0.att.spatial_decay"].data<float>().ToArray();
        // decay[h] = -5 + 8 (h/(C-1))^(0.7 + 1.3 r01): -5 at h=0 and 3 at h=C-1 in every layer.
        Assert.Equal(-5f, decay0[0], 5);
        Assert.Equal(3f, decay0[^1], 5);
        var first = sd["backbone.layers.0.att.spatial_first"].data<float>().ToArray();
        // first[h] = ln(0.3) + 0.5 ((h+1) mod 3 - 1): h=0 → ln 0.3, h=1 → ln 0.3 + 0.5, h=2 → ln 0.3 - 0.5.
        Assert.Equal(Math.Log(0.3), first[0], 5);
        Assert.Equal(Math.Log(0.3) + 0.5, first[1], 5);
        Assert.Equal(Math.Log(0.3) - 0.5, first[2], 5);
        // Layer 0: mix_k = (i/C)^1 → 0 at i=0, (C-1)/C at the end.
        var mixK = sd["backbone.layers.0.att.spatial_mix_k"].data<float>().ToArray();
        Assert.Equal(0f, mixK[0]);
        Assert.Equal(191f / 192f, mixK[^1], 5);
        Assert.True(sd["backbone.pos_embed"].abs().max().item<float>() == 0f, "pos_embed starts at zero");
    }
}
