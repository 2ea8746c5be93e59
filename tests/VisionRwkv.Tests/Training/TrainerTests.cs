using System.Text.Json;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Datasets.Transforms;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Training;

public class TrainerTests
{
    private static readonly string[] Classes = ["cat", "dog", "bird"];

    private static TrainConfig Small => new()
    {
        Epochs = 4, LearningRate = 0.02, WarmupEpochs = 1, WeightDecay = 0.01, LabelSmoothing = 0.1, ClipGradNorm = 1.0,
        KeepCheckpoints = 2, Seed = 5,
    };

    private static TrainingData Blobs(int batchSize = 16) => new(
        new BlobSource(3, 40, batchSize, dataSeed: 1),
        new BlobSource(3, 20, 32, dataSeed: 2, shuffle: false),
        new BlobSource(3, 20, 32, dataSeed: 3, shuffle: false));

    [Fact]
    public void Trainer_learns_separable_blobs_and_writes_the_run_folder()
    {
        using var dir = new TempDir();
        using var model = new TinyMlp(8, 16, 3, seed: 1);
        var log = new StringWriter();
        using var trainer = new Trainer(model, Small, Blobs(), dir.Path,
            new TrainerOptions { ClassNames = Classes, Reporter = new LineReporter(log, logEverySteps: 4) });
        var result = trainer.Fit();

        Assert.True(result.Completed);
        Assert.Equal(4, result.EpochsCompleted);
        var test = Assert.IsType<EvaluationReport>(result.Test?.Report);
        Assert.True(test.Top1 > 0.9, $"test top-1 {test.Top1}");
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);

        var files = Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToHashSet();
        foreach (var f in new[] { "config.json", "classes.json", "summary.csv", "metrics.json", "last.safetensors", "best.safetensors",
                     "model.safetensors", "loss.png", "accuracy.png", "confusion.png", "confusion_matrix.csv" })
            Assert.Contains(f, files);
        Assert.Equal(2, files.Count(f => f!.StartsWith("epoch-", StringComparison.Ordinal)));
        Assert.DoesNotContain(files, f => f!.EndsWith(".tmp", StringComparison.Ordinal));

        var csv = File.ReadAllLines(Path.Combine(dir.Path, "summary.csv"));
        Assert.Equal("epoch,train_loss,val_loss,val_top1,val_top5,lr,seconds", csv[0]);
        Assert.Equal(5, csv.Length);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "metrics.json")));
        double top1 = metrics.RootElement.GetProperty("test_top1").GetDouble();
        Assert.Equal(test.Top1, top1, 12);
        Assert.InRange(top1, 0, 1);
        Assert.True(metrics.RootElement.GetProperty("train_seconds").GetDouble() > 0);
        Assert.Equal(Classes, JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(dir.Path, "classes.json"))));
        Assert.Equal(Small.ToJson(), TrainConfig.FromJson(File.ReadAllText(Path.Combine(dir.Path, "config.json"))).ToJson());

        foreach (var png in new[] { "loss.png", "accuracy.png", "confusion.png" })
        {
            var head = File.ReadAllBytes(Path.Combine(dir.Path, png))[..8];
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, head);
        }
        Assert.Contains("epoch 4", log.ToString(), StringComparison.Ordinal);

        // model.safetensors holds the best weights under bare state_dict keys; loading it reproduces the test accuracy.
        using var reloaded = new TinyMlp(8, 16, 3, seed: 99);
        var report = WeightLoader.Load(reloaded, Path.Combine(dir.Path, "model.safetensors"));
        Assert.True(report.IsExact, report.ToString());
        var again = Evaluator.Evaluate(reloaded, Blobs().Test!, new EvaluateOptions { ClassNames = Classes });
        Assert.Equal(test.Top1, again.Top1, 12);
        Assert.Equal(again.Samples, again.ConfusionMatrix!.Sum(r => r.Sum()));
    }

    private static Dictionary<string, float[]> ModelWeights(string checkpoint)
    {
        using var file = SafeTensors.Read(checkpoint);
        return file.Tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal) || kv.Key.StartsWith("ema.", StringComparison.Ordinal)
                                        || kv.Key.StartsWith("optimizer.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
    }

    private sealed class CancelAfter(int epoch, CancellationTokenSource cts) : ITrainingReporter
    {
        public void RunStarted(RunStart start) { }
        public void EpochStarted(int e, int batches) { }
        public void StepCompleted(StepProgress progress) { }
        public void EpochCompleted(EpochSummary summary, bool isBest)
        {
            if (summary.Epoch == epoch) cts.Cancel();
        }
        public void Message(string text) { }
        public void RunCompleted(TrainResult result) { }
    }

    [Fact]
    public void Run_stopped_after_epoch_two_and_resumed_matches_an_uninterrupted_run()
    {
        // Every stateful feature on: accumulation (with a short last group), clipping, EMA, mixup/CutMix, smoothing.
        var cfg = Small with { Epochs = 4, GradAccumSteps = 2, Ema = true, EmaDecay = 0.9 };
        var mixup = new AugmentConfig { MixupAlpha = 0.4, CutmixAlpha = 1.0, MixupProb = 0.8 };
        var data = new TrainingData(new BlobSource(3, 30, 13, dataSeed: 1, mixup: mixup), new BlobSource(3, 10, 32, dataSeed: 2, shuffle: false));
        Assert.Equal(7, data.Train.BatchCount); // odd count: the last accumulation group has one micro-batch

        using var full = new TempDir();
        using (var model = new TinyMlp(8, 16, 3, seed: 1))
        using (var trainer = new Trainer(model, cfg, data, full.Path))
            Assert.True(trainer.Fit().Completed);

        using var split = new TempDir();
        using var cts = new CancellationTokenSource();
        using (var model = new TinyMlp(8, 16, 3, seed: 1))
        using (var trainer = new Trainer(model, cfg, data, split.Path, new TrainerOptions { Reporter = new CancelAfter(2, cts) }))
        {
            var first = trainer.Fit(cts.Token);
            Assert.False(first.Completed);
            Assert.Equal(2, first.EpochsCompleted);
            Assert.False(File.Exists(Path.Combine(split.Path, "metrics.json")));
        }
        // A differently initialised model proves the weights come from the checkpoint.
        using (var model = new TinyMlp(8, 16, 3, seed: 777))
        using (var trainer = Trainer.Resume(split.Path, model, data))
        {
            Assert.Equal(2, trainer.CompletedEpochs);
            Assert.Equal(8, trainer.Updates); // 4 updates per epoch (7 batches, accumulation 2)
            var rest = trainer.Fit();
            Assert.True(rest.Completed);
            Assert.Equal(4, rest.History.Count);
        }

        var a = ModelWeights(Path.Combine(full.Path, "last.safetensors"));
        var b = ModelWeights(Path.Combine(split.Path, "last.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.Contains(a.Keys, k => k.StartsWith("ema.", StringComparison.Ordinal));
        Assert.Contains(a.Keys, k => k.StartsWith("optimizer.", StringComparison.Ordinal));
        double maxDiff = a.Keys.Max(k => a[k].Zip(b[k]).Select(p => Math.Abs(p.First - p.Second)).DefaultIfEmpty(0).Max());
        Assert.True(maxDiff <= 1e-6, $"max |difference| {maxDiff}");
        // Every column but the last (seconds) agrees.
        Assert.Equal(File.ReadAllLines(Path.Combine(full.Path, "summary.csv")).Select(l => string.Join(",", l.Split(',')[..^1])),
            File.ReadAllLines(Path.Combine(split.Path, "summary.csv")).Select(l => string.Join(",", l.Split(',')[..^1])));
    }

    private sealed class FixedOrder(BlobSource inner) : IBatchSource
    {
        public int BatchCount => inner.BatchCount;
        public IEnumerable<Batch> GetBatches(int epoch) => inner.GetBatches(0);
    }

    [Fact]
    public void Two_accumulated_half_batches_equal_one_full_batch()
    {
        var cfg = Small with { Epochs = 1, WarmupEpochs = 0, LabelSmoothing = 0, ClipGradNorm = 0, KeepCheckpoints = 0 };
        Dictionary<string, float[]> Run(int batchSize, int accum)
        {
            using var dir = new TempDir();
            using var model = new TinyMlp(8, 16, 3, seed: 1);
            var data = new TrainingData(new FixedOrder(new BlobSource(3, 32, batchSize, dataSeed: 1, shuffle: false)));
            using (var trainer = new Trainer(model, cfg with { GradAccumSteps = accum }, data, dir.Path, new TrainerOptions { WritePlots = false }))
                trainer.Fit();
            return ModelWeights(Path.Combine(dir.Path, "last.safetensors")).Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value);
        }
        var whole = Run(16, 1);
        var accumulated = Run(8, 2);
        var diff = whole.Keys.Max(k => whole[k].Zip(accumulated[k]).Max(p => Math.Abs(p.First - p.Second)));
        Assert.True(diff < 1e-5, $"max |difference| {diff}");
        // And it must differ from plain batch-8 training, or the comparison proves nothing.
        var small = Run(8, 1);
        Assert.True(whole.Keys.Max(k => whole[k].Zip(small[k]).Max(p => Math.Abs(p.First - p.Second))) > 1e-3);
    }

    [Fact]
    public void Multi_label_run_reports_auroc_and_selects_the_best_by_it()
    {
        using var dir = new TempDir();
        using var model = new TinyMlp(8, 16, 4, seed: 1);
        var data = new TrainingData(new BlobSource(4, 30, 16, 1, multiLabel: true), new BlobSource(4, 15, 32, 2, shuffle: false, multiLabel: true));
        var cfg = TrainConfig.MultiLabelDefault with { Epochs = 3, LearningRate = 0.02, PosWeight = [1, 2, 1, 2], KeepCheckpoints = 0 };
        using var trainer = new Trainer(model, cfg, data, dir.Path, new TrainerOptions { WritePlots = false });
        var result = trainer.Fit();
        var test = Assert.IsType<EvaluationReport>(result.Test?.Report);
        Assert.NotNull(test.MultiLabelMetrics);
        Assert.True(test.MultiLabelMetrics!.MacroAuroc > 0.9, $"AUROC {test.MultiLabelMetrics.MacroAuroc}");
        Assert.Equal(result.History.Max(h => h["val_auroc"]!.Value), result.BestValue, 12);
        Assert.Null(test.ConfusionMatrix);
    }

    [Fact]
    public void Resume_without_a_run_folder_names_the_missing_file()
    {
        using var dir = new TempDir();
        using var model = new TinyMlp(8, 4, 3, seed: 1);
        var e = Assert.Throws<FileNotFoundException>(() => Trainer.Resume(dir.Path, model, Blobs()));
        Assert.Contains("config.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_diverging_run_stops_with_a_message_that_names_the_epoch_and_batch()
    {
        using var dir = new TempDir();
        using var model = new TinyMlp(8, 16, 3, seed: 1);
        // The first update moves every weight by about the learning rate: 1e30 overflows the logits of batch 2.
        var cfg = Small with { LearningRate = 1e30, WarmupEpochs = 0, ClipGradNorm = 0 };
        using var trainer = new Trainer(model, cfg, Blobs(), dir.Path, new TrainerOptions { WritePlots = false });
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Fit());
        Assert.Matches(@"^Training loss became (NaN|∞|Infinity|-∞|-Infinity) at epoch 1, batch [2-8];", e.Message);
    }
}
