using TorchSharp;
using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Explain;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Explain;

public sealed class OcclusionTests
{
    /// <summary>Two logits: 10 × the mean of rows 4..8, columns 8..12, and 0. Nothing else in the image matters.</summary>
    private sealed class RegionModel : nn.Module<Tensor, Tensor>, IImageClassifier
    {
        public RegionModel() : base(nameof(RegionModel)) => RegisterComponents();

        public string Name => "region";
        public int NumClasses => 2;
        public DataConfig Data => new(1, 16, 16, [0f], [1f], Interpolation.Bilinear, 1f);
        public int LayerCount => 0;

        public override Tensor forward(Tensor images)
        {
            var evidence = images[.., 0, 4..8, 8..12].mean([1, 2]) * 10;         // [B]
            return stack([evidence, zeros_like(evidence)], 1);                    // [B,2]
        }

        public Tensor ForwardFeatures(Tensor images) => throw new NotSupportedException();
        public Tensor ForwardHead(Tensor features) => throw new NotSupportedException();
        public int LayerIdOf(string parameterName) => 0;
        public bool IsHead(string parameterName) => false;
    }

    [Fact]
    public void Occlusion_marks_only_the_region_the_output_depends_on()
    {
        using var scope = NewDisposeScope();
        using var model = new RegionModel();
        var image = ones(1, 16, 16);
        var map = Saliency.Map(model, image, 0, SaliencyMethod.Occlusion,
            new SaliencyOptions { OcclusionWindow = 4, OcclusionStride = 2 });
        var (py, px) = Saliency.Peak(map);
        Assert.InRange(py, 4, 7);
        Assert.InRange(px, 8, 11);
        Assert.Equal(1f, map[py, px]);
        // A pixel whose covering windows all miss the region is never affected: zero after min-max (the minimum).
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                if (y < 1 || y >= 11 || x < 5 || x >= 15)
                    Assert.True(map[y, x] == 0f, $"pixel ({y},{x}) = {map[y, x]}");
    }

    [Fact]
    public void Occlusion_windows_cover_the_border()
    {
        Assert.Equal([0, 3, 6, 9, 12], Occlusion.Starts(16, 4, 3));
        Assert.Equal([0], Occlusion.Starts(3, 4, 2));
    }
}
