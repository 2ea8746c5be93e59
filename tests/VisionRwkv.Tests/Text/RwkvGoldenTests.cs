using VisionRwkv.Tests.Checkpoints;
using VisionRwkv.Text;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

/// <summary>A fact skipped, with the reason shown, when the shared RWKV-4 text golden is not present.</summary>
internal sealed class RwkvTextGoldenFactAttribute : FactAttribute
{
    public static string GoldenFile => Path.Combine(TestPaths.Goldens, "rwkv4-text", "tiny-rwkv-4v0-660K.safetensors");

    public RwkvTextGoldenFactAttribute()
    {
        if (!File.Exists(GoldenFile))
            Skip = $"golden absent: {GoldenFile}";
    }
}

/// <summary>
/// The tiny trained rwkv.cpp model (4 layers, 128 wide, bytes) and the logits its authors' reference produced after
/// the prompt <c>"in</c> fed one token at a time (shared/goldens/README.md, rwkv4-text).
/// </summary>
public class RwkvGoldenTests(ITestOutputHelper output)
{
    private static readonly long[] Prompt = [34, 105, 110];

    [RwkvTextGoldenFact]
    public void The_golden_loads_with_every_size_inferred_and_its_expected_logits_reported_as_extra()
    {
        var loaded = TextModels.Load(RwkvTextGoldenFactAttribute.GoldenFile);
        using var model = (RwkvLm)loaded.Model;
        Assert.Equal(new RwkvConfig { NLayer = 4, NEmbd = 128, DimFfn = 256, VocabSize = 256 }, model.Config with { Wkv = default });
        Assert.Equal(["expected_logits"], loaded.Report.Unexpected);
        Assert.Empty(loaded.Report.Missing);
    }

    [RwkvTextGoldenFact]
    public void Recurrent_logits_after_the_prompt_match_the_reference_within_2e_5()
    {
        var (model, expected) = Load();
        using (model)
        using (expected)
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            RwkvState? state = null;
            Tensor logits = null!;
            foreach (var token in Prompt)
                (logits, state) = model.Step(tensor(new[] { token }), state);
            double err = (logits[0] - expected).abs().max().item<float>();
            output.WriteLine($"recurrent: max |logits - reference| = {err:E2} (largest |logit| {expected.abs().max().item<float>():F3})");
            Assert.True(err <= 2e-5, $"max |recurrent - reference| = {err:E3}");
        }
    }

    [RwkvTextGoldenFact]
    public void Parallel_logits_at_the_last_prompt_token_match_the_reference_within_2e_5()
    {
        var (model, expected) = Load();
        using (model)
        using (expected)
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var (logits, _) = model.Forward(tensor(Prompt).view(1, -1));        // [1,3,256]
            double err = (logits[0, -1] - expected).abs().max().item<float>();
            output.WriteLine($"parallel: max |logits - reference| = {err:E2}");
            Assert.True(err <= 2e-5, $"max |parallel - reference| = {err:E3}");
            var (alone, _) = model.Forward(tensor(Prompt).view(1, -1));
            Assert.Equal(0, (alone - logits).abs().max().item<float>());           // deterministic
        }
    }

    private static (RwkvLm Model, Tensor Expected) Load()
    {
        var loaded = TextModels.Load(RwkvTextGoldenFactAttribute.GoldenFile);
        using var file = VisionRwkv.Checkpoints.SafeTensors.Read(RwkvTextGoldenFactAttribute.GoldenFile);
        Assert.Equal("[34, 105, 110]", file.Metadata["prompt_token_ids"]);
        var expected = file.Tensors["expected_logits"].clone();
        return ((RwkvLm)loaded.Model, expected);
    }
}
