using VisionRwkv.Checkpoints;
using VisionRwkv.Text;
using VisionRwkv.Text.Gpt;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

public class TextModelsTests
{
    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("model.pth")]
    public void Both_families_save_and_load_with_every_size_inferred(string file)
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-text-models-");
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = TextTestModels.Tokens(1, 10, 50, seed: 41);
            using var rwkv = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 42);
            using var gpt = new Gpt(GptConfig.Byte2x64 with { VocabSize = 50, NHead = 4 });
            TextTestModels.Randomize(gpt, seed: 43);
            gpt.eval();
            foreach (ILanguageModel m in new ILanguageModel[] { rwkv, gpt })
            {
                var path = Path.Combine(dir.FullName, m.GetType().Name + file);
                TextModels.Save(m, path);
                var loaded = TextModels.Load(path);
                using var back = loaded.Model;
                Assert.True(loaded.Report.IsExact, loaded.Report.ToString());
                Assert.Equal(m.GetType(), back.GetType());
                Assert.Equal(0, (back.Module.call(tokens) - m.Module.call(tokens)).abs().max().item<float>());
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Bf16_weights_with_squeezed_time_vectors_and_wrapper_prefixes_load_and_extras_are_reported()
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-text-models-");
        try
        {
            using var scope = NewDisposeScope();
            using var rwkv = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 44);
            var sd = new Dictionary<string, Tensor>();
            foreach (var (k, v) in rwkv.state_dict())
            {
                var t = k.Contains("time_mix", StringComparison.Ordinal) ? v.reshape(-1) : v;   // ChatRWKV squeezes these
                sd["_orig_mod." + k] = t.to(ScalarType.BFloat16);
            }
            sd["optimizer_step"] = tensor(new float[] { 3 });
            var path = Path.Combine(dir.FullName, "bf16.safetensors");
            SafeTensors.Write(path, sd);
            var loaded = TextModels.Load(path);
            using var model = (RwkvLm)loaded.Model;
            Assert.Equal(TextTestModels.Small, model.Config);
            Assert.Equal(["optimizer_step"], loaded.Report.Unexpected);
            var expected = rwkv.state_dict()["blocks.1.att.time_mix_k"].to(ScalarType.BFloat16).to(ScalarType.Float32);
            Assert.Equal(ScalarType.Float32, model.state_dict()["blocks.1.att.time_mix_k"].dtype);
            Assert.True(model.state_dict()["blocks.1.att.time_mix_k"].eq(expected).all().item<bool>());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_file_of_another_model_fails_with_its_name()
    {
        var dir = Directory.CreateTempSubdirectory("rwkv-text-models-");
        try
        {
            var path = Path.Combine(dir.FullName, "other.safetensors");
            using (var t = zeros(3, 4)) SafeTensors.Write(path, new Dictionary<string, Tensor> { ["backbone.patch_embed.weight"] = t });
            var e = Assert.Throws<InvalidDataException>(() => TextModels.Load(path));
            Assert.Contains("other.safetensors", e.Message);
            Assert.Throws<ArgumentException>(() => TextModels.Create("rwkv4_nope"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_byte_presets_have_equal_block_weights()
    {
        using var rwkv = (RwkvLm)TextModels.Create("rwkv4_byte_6x256");
        using var gpt = (Gpt)TextModels.Create("gpt_byte_6x256");
        long Count(nn.Module m, Func<string, bool> pick) => m.named_parameters().Where(p => pick(p.name) && p.parameter.dim() == 2).Sum(p => p.parameter.numel());
        long rwkvBlocks = Count(rwkv, n => n.StartsWith("blocks.", StringComparison.Ordinal));
        long gptBlocks = Count(gpt, n => n.StartsWith("transformer.h.", StringComparison.Ordinal));
        Assert.Equal(6 * 12 * 256L * 256, rwkvBlocks);
        Assert.Equal(rwkvBlocks, gptBlocks);
    }
}
