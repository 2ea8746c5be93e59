using System.Text.Json;
using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Models;
using VisionRwkv.Runs;

namespace VisionRwkv.Cli.Tests;

/// <summary><c>rwkv explain</c> on a run folder made in the test (a vrwkv_mini_28 with fresh weights).</summary>
public sealed class ExplainCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"rwkv-explain-{Guid.NewGuid():N}");

    public ExplainCommandTests()
    {
        var run = Path.Combine(_root, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "run.json"), new RunSpec { Model = "vrwkv_mini_28" }.ToJson());
        ClassMap.FromNames(Enumerable.Range(0, 10).Select(i => $"class{i}")).Save(Path.Combine(run, "class_map.json"));
        using var model = ModelRegistry.Create("vrwkv_mini_28", 10);
        SafeTensors.Write(Path.Combine(run, "model.safetensors"), model.state_dict());
        WriteGrayPng(Path.Combine(_root, "a.png"), 28, 28);
        WriteGrayPng(Path.Combine(_root, "wide.png"), 40, 56);
        File.WriteAllBytes(Path.Combine(_root, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Explain_writes_one_overlay_per_image_and_method_and_never_replaces_one()
    {
        var run = Path.Combine(_root, "run");
        var output = Path.Combine(_root, "out");
        string[] args = ["explain", run, Path.Combine(_root, "a.png"), Path.Combine(_root, "wide.png"), Path.Combine(_root, "broken.png"),
            "--label", "class3", "--out", output];
        var (code, text) = CliRunner.Run(args);
        Assert.True(code == 2, "a skipped image makes the exit code 2:\n" + text);
        Assert.Contains("broken.png", text);
        string[] expected = [.. from stem in new[] { "a", "wide" } from m in new[] { "gradcam", "wkv", "occlusion" } select $"{stem}.class3.{m}.png"];
        foreach (var name in expected)
        {
            var bytes = File.ReadAllBytes(Path.Combine(output, name));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }
        var before = expected.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(output, n)));
        File.WriteAllText(Path.Combine(output, "a.class3.gradcam-1.png"), "mine");   // a user's file in the way of the first suffix
        (code, text) = CliRunner.Run(args);
        Assert.True(code == 2, text);
        foreach (var name in expected)
            Assert.Equal(before[name], File.ReadAllBytes(Path.Combine(output, name)));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "a.class3.gradcam-1.png")));
        Assert.True(File.Exists(Path.Combine(output, "a.class3.gradcam-2.png")), text);
        Assert.True(File.Exists(Path.Combine(output, "wide.class3.occlusion-1.png")), text);
    }

    [Fact]
    public void The_pointing_game_prints_and_writes_a_hit_rate_per_method()
    {
        var run = Path.Combine(_root, "run");
        var csv = Path.Combine(_root, "boxes.csv");
        // A box over the whole image: every peak maps back inside it. The wide image's crop maps back into its
        // centre 40x40, so a box over its left 8 columns is never hit.
        File.WriteAllText(csv, "image,label,x0,y0,x1,y1\na.png,class1,0,0,28,28\nwide.png,2,0,0,8,40\nbroken.png,0,0,0,5,5\n");
        var output = Path.Combine(_root, "pg");
        var (code, text) = CliRunner.Run(["explain", run, "--pointing-game", csv, "--method", "all", "--out", output]);
        Assert.True(code == 2, "the unreadable image is skipped and reported:\n" + text);
        Assert.Contains("gradcam: 1/2 hits (50.0", text);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "pointing-game.json")));
        var methods = json.RootElement.GetProperty("methods").EnumerateArray().ToList();
        Assert.Equal(["gradcam", "wkv", "occlusion"], methods.Select(m => m.GetProperty("method").GetString()));
        Assert.All(methods, m => Assert.Equal(1, m.GetProperty("hits").GetInt32()));
        Assert.All(methods, m => Assert.Equal(2, m.GetProperty("total").GetInt32()));
        Assert.Single(json.RootElement.GetProperty("skipped").EnumerateArray());

        File.WriteAllText(csv, "image,label,x0,y0,x1,y1\na.png,nosuchclass,0,0,28,28\n");
        (code, text) = CliRunner.Run(["explain", run, "--pointing-game", csv, "--out", output]);
        Assert.Equal(1, code);
        Assert.Contains("boxes.csv:2: label 'nosuchclass'", text);
    }

    [Fact]
    public void Grad_CAM_options_select_the_variant_and_a_wrong_value_is_a_one_line_error()
    {
        var run = Path.Combine(_root, "run");
        var image = Path.Combine(_root, "a.png");
        var output = Path.Combine(_root, "variants");
        var (code, text) = CliRunner.Run(["explain", run, image, "--method", "gradcam", "--gradcam-classic", "--out", output]);
        Assert.True(code == 0, text);
        (code, text) = CliRunner.Run(["explain", run, image, "--method", "gradcam", "--gradcam-block", "0", "--gradcam-weighting", "channel",
            "--gradcam-sign", "positive", "--gradcam-no-rollout", "--out", output]);
        Assert.True(code == 0, text);
        Assert.Equal(2, Directory.GetFiles(output, "a.*.gradcam*.png").Length);

        (code, text) = CliRunner.Run(["explain", run, image, "--method", "gradcam", "--gradcam-weighting", "diagonal", "--out", output]);
        Assert.Equal(1, code);
        Assert.Contains("--gradcam-weighting diagonal: expected element or channel", text);
        (code, text) = CliRunner.Run(["explain", run, image, "--method", "gradcam", "--gradcam-block", "12", "--out", output]);
        Assert.Equal(1, code);
        Assert.Contains("Grad-CAM block 12: the model has blocks 0..", text);
    }

    private static void WriteGrayPng(string path, int height, int width)
    {
        using var bitmap = new SkiaSharp.SKBitmap(width, height, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)((x * 7 + y * 3) % 256);
                bitmap.SetPixel(x, y, new SkiaSharp.SKColor(v, v, v));
            }
        using var image = SkiaSharp.SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
