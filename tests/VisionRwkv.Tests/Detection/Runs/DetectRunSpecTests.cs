using VisionRwkv.Datasets.Detection;
using VisionRwkv.Detection.Runs;
using VisionRwkv.Detection.Training;

namespace VisionRwkv.Tests.Detection.Runs;

public sealed class DetectRunSpecTests
{
    private static DetectRunSpec Spec(int? testImgSize) => new()
    {
        Model = "vrwkv_mini_28",
        ImgSize = 64,
        InChannels = 1,
        PatchSize = 8,
        EmbedDims = 32,
        Depth = 1,
        PyramidScales = [1, 0.5],
        PyramidChannels = 16,
        HeadConvs = 1,
        TestImgSize = testImgSize,
    };

    [Fact]
    public void Evaluation_letterboxes_to_the_test_size_when_one_is_set_and_to_the_training_size_otherwise()
    {
        Assert.Equal((64, 64), (Spec(null).EvalPipeline().Height, Spec(null).EvalPipeline().Width));
        Assert.Equal((96, 96), (Spec(96).EvalPipeline().Height, Spec(96).EvalPipeline().Width));
        // An explicit size (rwkv detect eval --img-size) wins over the spec's.
        Assert.Equal(80, Spec(96).EvalPipeline(80).Height);
        // Only the size changes: the channels stay the training ones.
        Assert.Equal(Spec(null).EvalPipeline().Channels, Spec(96).EvalPipeline().Channels);
    }

    [Theory]
    [InlineData(60)]
    [InlineData(4)]
    [InlineData(0)]
    public void A_test_size_that_is_not_a_multiple_of_the_patch_size_is_refused_by_name(int size)
    {
        var spec = Spec(size);
        var e = Assert.Throws<ArgumentException>(() => spec.EvalPipeline());
        Assert.Contains($"test image size {size}", e.Message, StringComparison.Ordinal);
        Assert.Contains("patch size 8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validation_and_test_batches_come_at_the_test_size_while_training_batches_keep_the_training_size()
    {
        var categories = new[] { new CocoCategory(1, "thing") };
        var files = new[] { "a.png", "b.png" };
        var splits = new DetectionSplits(new ImageFilesDetectionDataset(files, categories), new ImageFilesDetectionDataset(files, categories),
            new ImageFilesDetectionDataset(files, categories), "two files");
        var spec = Spec(96);
        var data = DetectRun.Loaders(spec, splits, spec.DetectorConfig(1));
        Assert.Equal((64, 64), Size(data.Train));
        Assert.Equal((96, 96), Size(data.Validation!));
        Assert.Equal((96, 96), Size(data.Test!));

        static (int, int) Size(VisionRwkv.Datasets.Loading.IBatchSource source)
        {
            var pipeline = ((DetectionBatchSource)source).Loader.Pipeline;
            return (pipeline.Height, pipeline.Width);
        }
    }
}
