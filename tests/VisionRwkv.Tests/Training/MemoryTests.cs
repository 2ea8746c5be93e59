using System.Diagnostics;
using TorchSharp;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Training;

namespace VisionRwkv.Tests.Training;

[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public sealed class MemoryCollection;

[Collection(nameof(MemoryCollection))]
public class MemoryTests
{
    private sealed class Probe : ITrainingReporter
    {
        public readonly List<long> Live = [];
        public readonly List<long> Rss = [];
        public void RunStarted(RunStart start) { }
        public void EpochStarted(int epoch, int batches) { }
        public void StepCompleted(StepProgress progress)
        {
            Live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            if (progress.Batch % 50 == 0)
            {
                using var p = Process.GetCurrentProcess();
                Rss.Add(p.WorkingSet64);
            }
        }
        public void EpochCompleted(EpochSummary summary, bool isBest) { }
        public void Message(string text) { }
        public void RunCompleted(TrainResult result) { }
    }

    [Fact]
    public void Five_hundred_training_steps_leave_no_growing_live_tensors_or_memory()
    {
        using var dir = new TempDir();
        using var model = new TinyMlp(8, 32, 4, seed: 1);
        var probe = new Probe();
        // One epoch of 500 batches of 8, with EMA, accumulation, clipping and mixup so each feature's temporaries are covered.
        var cfg = new TrainConfig
        {
            Epochs = 1, LearningRate = 0.01, WarmupSteps = 10, Ema = true, GradAccumSteps = 2, ClipGradNorm = 1, KeepCheckpoints = 0,
        };
        var source = new BlobSource(4, 1000, 8, 1, mixup: new VisionRwkv.Datasets.Transforms.AugmentConfig { MixupAlpha = 0.2 });
        using var trainer = new Trainer(model, cfg, new TrainingData(source), dir.Path,
            new TrainerOptions { Reporter = probe, WritePlots = false });
        trainer.Fit();

        Assert.Equal(500, probe.Live.Count);
        long afterWarmup = probe.Live[49];
        // Live tensors on this thread are flat after warm-up: no per-step leak.
        Assert.True(probe.Live.Skip(50).All(v => v <= afterWarmup), $"live tensors went from {afterWarmup} to {probe.Live.Max()}");
        // Resident memory grows by less than 40 MB between step 100 and step 500.
        long growth = probe.Rss[^1] - probe.Rss[1];
        Assert.True(growth < 40L << 20, $"working set grew by {growth >> 20} MB");
    }

    /// <summary>Random 28x28 gray images with 10 labels, a fixed set of batches (no data loading in the measurement).</summary>
    private sealed class RandomImages(int batches, int batchSize) : IBatchSource
    {
        public int BatchCount => batches;

        public IEnumerable<Batch> GetBatches(int epoch)
        {
            var g = new torch.Generator(1000 + (ulong)epoch);
            for (int i = 0; i < batches; i++)
                yield return new Batch(torch.randn([batchSize, 1, 28, 28], generator: g), torch.randint(0, 10, [batchSize], generator: g));
        }
    }

    [Fact]
    public void Three_hundred_steps_of_vrwkv_mini_28_through_the_fused_kernels_keep_tensors_and_memory_flat()
    {
        using var dir = new TempDir();
        // The real model: fused CPU WKV, token-shift and squared-ReLU kernels with their custom autograd functions,
        // the fused AdamW, EMA and clipping.
        using var model = VisionRwkv.Models.ModelRegistry.Create("vrwkv_mini_28");
        var probe = new Probe();
        var cfg = new TrainConfig { Epochs = 1, LearningRate = 1e-3, WarmupSteps = 10, Ema = true, ClipGradNorm = 1, KeepCheckpoints = 0 };
        using var trainer = new Trainer(model, cfg, new TrainingData(new RandomImages(300, 16)), dir.Path,
            new TrainerOptions { Reporter = probe, WritePlots = false });
        trainer.Fit();

        Assert.Equal(300, probe.Live.Count);
        long afterWarmup = probe.Live[49];
        Assert.True(probe.Live.Skip(50).All(v => v <= afterWarmup), $"live tensors went from {afterWarmup} to {probe.Live.Max()}");
        // Resident memory between step 100 and step 300 grows by less than 40 MB (one step's activations are ~3 MB).
        long growth = probe.Rss[^1] - probe.Rss[1];
        Assert.True(growth < 40L << 20, $"working set grew by {growth >> 20} MB from step 100 to 300");
    }
}
