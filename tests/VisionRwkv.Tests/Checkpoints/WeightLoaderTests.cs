using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Checkpoints;

/// <summary>Fine-tuning loads: official mmcls-layout files into models of another class count, resolution and channel count.</summary>
public sealed class WeightLoaderTests : IDisposable
{
    private readonly string dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A small official-layout backbone: 3 channels, 64x64 at patch 16 (a 4x4 token grid), 1000 classes.</summary>
    private static VrwkvConfig Official => new()
    {
        ImgHeight = 64, ImgWidth = 64, PatchSize = 16, InChannels = 3, EmbedDims = 32, Depth = 2, NumClasses = 1000,
    };

    /// <summary>The X-ray target: 1 channel at 96x96 (a 6x6 grid), 7 classes.</summary>
    private static VrwkvConfig Target => Official with { ImgHeight = 96, ImgWidth = 96, InChannels = 1, NumClasses = 7, Data = DataConfig.ImageNet(96) with { Channels = 1, Mean = [0.5f], Std = [0.25f] } };

    /// <summary>Writes <paramref name="model"/> the way mmcls releases checkpoints: {'state_dict': ..., 'meta': ...},
    /// every key under a DataParallel <c>module.</c> prefix.</summary>
    private string WriteOfficial(nn.Module model, string name)
    {
        var path = Path.Combine(dir, name);
        var sd = model.state_dict().ToDictionary(kv => "module." + kv.Key, kv => kv.Value);
        Pth.Write(path, sd, new Dictionary<string, string> { ["mmcls_version"] = "0.25.0" });
        return path;
    }

    [Fact]
    public void An_official_layout_pth_fine_tunes_a_one_channel_model_of_another_size_and_class_count()
    {
        manual_seed(1);
        using var source = new VrwkvClassifier(Official);
        var file = WriteOfficial(source, "vrwkv_official.pth");
        manual_seed(2);
        using var target = new VrwkvClassifier(Target);
        using var headBefore = target.state_dict()["head.fc.weight"].clone();

        var report = WeightLoader.Load(target, file, WeightLoadOptions.FineTune);

        Assert.Equal(new[] { "head.fc.weight", "head.fc.bias" }, report.Reinitialised.Order().Reverse());
        Assert.Equal("backbone.pos_embed", Assert.Single(report.Resized).Key);
        Assert.Contains("4x4 -> 6x6", report.Resized[0].What, StringComparison.Ordinal);
        Assert.Equal("backbone.patch_embed.projection.weight", Assert.Single(report.Adapted).Key);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(target.state_dict().Count - 2, report.Loaded.Count);
        // The head kept its fresh initialisation; every block tensor is the checkpoint's.
        Assert.True(TensorAssert.SameValues(headBefore, target.state_dict()["head.fc.weight"]));
        foreach (var (key, t) in source.state_dict().Where(kv => kv.Key.StartsWith("backbone.layers.", StringComparison.Ordinal)))
            Assert.True(TensorAssert.SameValues(t, target.state_dict()[key]), key);
        Assert.Contains("re-initialised", report.ToString(), StringComparison.Ordinal);

        // A gray image seen by the adapted 1-channel patch embedding gives what the 3-channel original gives for the same
        // gray replicated into R, G and B (timm's adapt_input_conv sums the input channels).
        using var scope = NewDisposeScope();
        var gray = rand(2, 1, 64, 64);
        var srcConv = source.state_dict()["backbone.patch_embed.projection.weight"];
        var dstConv = target.state_dict()["backbone.patch_embed.projection.weight"];
        var bias = source.state_dict()["backbone.patch_embed.projection.bias"];
        var three = nn.functional.conv2d(gray.expand(2, 3, 64, 64), srcConv, bias, strides: [16, 16]);
        var one = nn.functional.conv2d(gray, dstConv, bias, strides: [16, 16]);
        Assert.True(one.allclose(three, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void A_constant_position_embedding_stays_constant_when_resized()
    {
        manual_seed(1);
        using var source = new VrwkvClassifier(Official);
        using (no_grad())
            source.state_dict()["backbone.pos_embed"].fill_(0.375f);
        var file = WriteOfficial(source, "constant_pos.pth");
        using var target = new VrwkvClassifier(Target with { InChannels = 3, Data = DataConfig.ImageNet(96) });
        var report = WeightLoader.Load(target, file, WeightLoadOptions.FineTune);
        Assert.Empty(report.Adapted);
        var pos = target.state_dict()["backbone.pos_embed"];
        Assert.Equal(new long[] { 1, 36, 32 }, pos.shape);
        Assert.True(pos.allclose(full_like(pos, 0.375f), atol: 1e-6));
    }

    [Fact]
    public void A_one_channel_checkpoint_is_repeated_into_three_channels_and_divided_by_three()
    {
        manual_seed(3);
        using var gray = new VrwkvClassifier(Official with { InChannels = 1 });
        var file = Path.Combine(dir, "gray.safetensors");
        SafeTensors.Write(file, gray.state_dict());
        using var rgb = new VrwkvClassifier(Official);
        var report = WeightLoader.Load(rgb, file, WeightLoadOptions.FineTune);
        Assert.Contains("repeated to 3", Assert.Single(report.Adapted).What, StringComparison.Ordinal);
        var w1 = gray.state_dict()["backbone.patch_embed.projection.weight"].data<float>().ToArray();
        var w3 = rgb.state_dict()["backbone.patch_embed.projection.weight"];
        for (int c = 0; c < 3; c++)
        {
            var plane = w3.narrow(1, c, 1).contiguous().data<float>().ToArray();
            for (int i = 0; i < plane.Length; i++)
                Assert.Equal(w1[i] / 3f, plane[i], 6);
        }
    }

    [Fact]
    public void Exact_loading_refuses_any_difference_and_fine_tuning_refuses_a_block_of_another_width()
    {
        manual_seed(1);
        using var source = new VrwkvClassifier(Official);
        var file = WriteOfficial(source, "official.pth");
        using var other = new VrwkvClassifier(Target);
        var exact = Assert.Throws<InvalidDataException>(() => WeightLoader.Load(other, file));
        Assert.StartsWith($"{file}: the weights do not match the model", exact.Message, StringComparison.Ordinal);
        using var wider = new VrwkvClassifier(Official with { EmbedDims = 48 });
        var refused = Assert.Throws<InvalidDataException>(() => WeightLoader.Load(wider, file, WeightLoadOptions.FineTune));
        Assert.Contains("shapes differ where no adaptation applies", refused.Message, StringComparison.Ordinal);
        Assert.Contains("backbone.layers.0.att.key.weight", refused.Message, StringComparison.Ordinal);
    }

    [PythonTorchFact]
    public void A_checkpoint_saved_by_real_pytorch_in_both_formats_fine_tunes_the_same()
    {
        manual_seed(5);
        using var source = new VrwkvClassifier(Official);
        var ours = Path.Combine(dir, "ours.pth");
        Pth.Write(ours, source.state_dict());
        // Real PyTorch re-saves it the mmcls way (state_dict + meta, module. prefix), in the zip and the legacy format.
        const string script = """
            import sys, torch
            sd = torch.load(sys.argv[1])
            wrapped = {'state_dict': {'module.' + k: v for k, v in sd.items()}, 'meta': {'CLASSES': ['a'] * 1000}}
            torch.save(wrapped, sys.argv[2])
            torch.save(wrapped, sys.argv[3], _use_new_zipfile_serialization=False)
            """;
        string zip = Path.Combine(dir, "torch_zip.pth"), legacy = Path.Combine(dir, "torch_legacy.pth");
        var (code, output) = Python.Run(Python.TorchExe!, script, TimeSpan.FromMinutes(2), ours, zip, legacy);
        Assert.True(code == 0, output);
        foreach (var file in new[] { zip, legacy })
        {
            using var target = new VrwkvClassifier(Target);
            var report = WeightLoader.Load(target, file, WeightLoadOptions.FineTune);
            Assert.Equal(2, report.Reinitialised.Count);
            Assert.Single(report.Resized);
            Assert.Single(report.Adapted);
            Assert.Equal(target.state_dict().Count - 2, report.Loaded.Count);
            foreach (var (key, t) in source.state_dict().Where(kv => kv.Key.StartsWith("backbone.layers.", StringComparison.Ordinal)))
                Assert.True(TensorAssert.SameValues(t, target.state_dict()[key]), $"{file}: {key}");
        }
    }
}
