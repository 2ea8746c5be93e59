using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Labeling;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Tests.Labeling;

/// <summary>The two ways MODEL is opened today: a run folder (through the library's TrainedClassifier) and a checkpoint + names.</summary>
public sealed class LabelModelTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"rwkv-label-model-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private string Photos()
    {
        var photos = Path.Combine(root, "photos");
        Directory.CreateDirectory(photos);
        for (var i = 0; i < 5; i++)
            File.WriteAllBytes(Path.Combine(photos, $"p{i}.jpg"), LabelFixtures.Photo(40, 30, i));
        return photos;
    }

    /// <summary>Top-1 of each photo computed directly with the model, as the reference for what `rwkv label` stores.</summary>
    private static string[] DirectTop1(nn.Module<Tensor, Tensor> model, string photos, IReadOnlyList<string> names)
    {
        var data = ModelRegistry.Get("vrwkv_mini_32").Data;
        var pipeline = VisionRwkv.Datasets.Transforms.ImagePipeline.Eval(data);
        model.eval();
        return [.. Directory.GetFiles(photos).Order(StringComparer.Ordinal).Select(f =>
        {
            var img = pipeline.Apply(VisionRwkv.Datasets.Imaging.ImageDecoder.Decode(f, pipeline.Decode), new VisionRwkv.Common.SeededRng(0));
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.call(tensor(img.Data, [1, img.Channels, img.Height, img.Width])); // [1,K]
            return names[(int)logits.argmax(1).item<long>()];
        })];
    }

    [Fact]
    public void A_run_folder_is_opened_through_the_adapter_with_its_class_map_and_weights()
    {
        var run = Path.Combine(root, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "run.json"), """{"model": "vrwkv_mini_32", "data": "photos"}""");
        new ClassMap(LabelFixtures.ClassNames).Save(Path.Combine(run, "class_map.json"));
        manual_seed(3);
        using var model = ModelRegistry.Create("vrwkv_mini_32", LabelFixtures.ClassNames.Length);
        CheckpointIO.Save(Path.Combine(run, "model.safetensors"), model.state_dict());
        var photos = Photos();

        var (code, output) = CliRunner.Run(["label", run, photos, "--out", Path.Combine(root, "out"), "--export", "none"]);
        Assert.True(code == 0, output);
        var rows = LabelFixtures.Rows(Path.Combine(root, "out", "labels.sqlite")).Values.OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
        Assert.Equal(DirectTop1(model, photos, LabelFixtures.ClassNames), rows.Select(r => r.Labels[0].Label));
        Assert.All(rows, r => Assert.StartsWith("vrwkv_mini_32@", r.ModelId, StringComparison.Ordinal));
    }

    [Fact]
    public void An_mmcls_pth_checkpoint_with_imagenet_style_names_labels_like_the_model()
    {
        manual_seed(4);
        using var model = ModelRegistry.Create("vrwkv_mini_32", 10);
        // An mmcls checkpoint saved from a DataParallel wrapper: "module.backbone.*" and "module.head.fc.*" in a .pth.
        var wrapped = model.state_dict().ToDictionary(kv => "module." + kv.Key, kv => kv.Value);
        var pth = Path.Combine(root, "mmcls_vrwkv.pth");
        Directory.CreateDirectory(root);
        CheckpointIO.Save(pth, wrapped);
        var names = LabelFixtures.ClassNames.Select((n, i) => $"n0{1440764 + i} {n}, a {n}").ToArray();
        var classes = Path.Combine(root, "synsets.txt");
        File.WriteAllLines(classes, names);
        var photos = Photos();

        var (code, output) = CliRunner.Run(["label", pth, photos, "--classes", classes, "--arch", "vrwkv_mini_32", "--out", Path.Combine(root, "out"), "--export", "none"]);
        Assert.True(code == 0, output);
        var rows = LabelFixtures.Rows(Path.Combine(root, "out", "labels.sqlite")).Values.OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
        var expectedNames = LabelFixtures.ClassNames.Select(n => $"{n}, a {n}").ToArray();
        Assert.Equal(DirectTop1(model, photos, expectedNames), rows.Select(r => r.Labels[0].Label));
        Assert.Equal($"vrwkv_mini_32@{ClassifierLabeler.FileDigest(pth)}", rows[0].ModelId);

        // A checkpoint of another shape is refused with the weight loader's report, not run with half its weights.
        (code, output) = CliRunner.Run(["label", pth, photos, "--classes", classes, "--arch", "vrwkv_mini_28", "--out", Path.Combine(root, "out2")]);
        Assert.Equal(1, code);
        Assert.Contains("the weights do not match the model", output);
    }
}
