using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Checkpoints;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Loading;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>The data of a run: training batches, optional validation and test batches.</summary>
/// <param name="Train">Training source (deterministic per epoch).</param>
/// <param name="Validation">Evaluated after every epoch; picks the best checkpoint.</param>
/// <param name="Test">Evaluated once at the end with the best weights; validation is used when absent.</param>
public sealed record TrainingData(IBatchSource Train, IBatchSource? Validation = null, IBatchSource? Test = null);

/// <summary>Things a run needs that are not configuration: the task, reporting, class names, parameter depths.</summary>
public sealed record TrainerOptions
{
    /// <summary>What is trained; classification with the config's loss settings when null.</summary>
    public ITrainingTask? Task { get; init; }
    /// <summary>Progress sink; nothing is reported when null.</summary>
    public ITrainingReporter? Reporter { get; init; }
    /// <summary>Class names in index order; written to classes.json and used in reports and plots.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>Parameter depths, for <see cref="TrainConfig.LayerDecay"/> and <see cref="TrainConfig.BackboneLrScale"/>.</summary>
    public ParameterLayers? Layers { get; init; }
    /// <summary>Draw loss/metric/confusion PNGs at the end of the run.</summary>
    public bool WritePlots { get; init; } = true;
    /// <summary>Which fused CUDA kernels may run (the AdamW update here; the model carries its own).</summary>
    public KernelOptions Kernels { get; init; } = KernelOptions.Default;
}

/// <summary>Outcome of <see cref="Trainer.Fit"/>.</summary>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="EpochsCompleted">Epochs done (over all resumes).</param>
/// <param name="Completed">False when stopped by cancellation before the last epoch.</param>
/// <param name="BestMetric">Name of the selection metric.</param>
/// <param name="BestValue">Its best value (NaN when never measured).</param>
/// <param name="BestEpoch">Epoch of best.safetensors.</param>
/// <param name="Test">Final evaluation with the best weights (null when stopped early or without evaluation data).</param>
/// <param name="TestSplit">"test", or "validation" when the data has no test split.</param>
/// <param name="TrainSeconds">Wall-clock seconds of training over all resumes.</param>
/// <param name="History">One summary per epoch.</param>
public sealed record TrainResult(string RunDirectory, int EpochsCompleted, bool Completed, string BestMetric, double BestValue,
    int BestEpoch, TaskEvaluation? Test, string TestSplit, double TrainSeconds, IReadOnlyList<EpochSummary> History);

/// <summary>
/// Trains any model on any <see cref="ITrainingTask"/> with AdamW (fused), cosine schedule with warm-up, gradient
/// accumulation and clipping, and an EMA of the weights; evaluates after every epoch, keeps the best checkpoint by a
/// validation metric, and resumes exactly (<see cref="Resume"/>). Files go to a <see cref="RunFolder"/>; the checkpoint
/// format is <see cref="TrainingCheckpoint"/>. After a completed <see cref="Fit"/> the model holds the best weights.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly nn.Module<Tensor, Tensor> _model;
    readonly TrainingData _data;
    readonly TrainerOptions _options;
    readonly ITrainingTask _task;
    readonly bool _ownsTask;
    readonly ITrainingReporter _reporter;
    readonly Device _device;
    readonly AdamW _optimizer;
    readonly double[] _lrScales;
    readonly ScalarType? _autocast;
    readonly List<Parameter> _parameters;
    readonly ModelEma? _ema;
    readonly List<EpochSummary> _history = [];
    readonly LrSchedule _schedule;
    readonly RunFolder _folder;
    readonly int _updatesPerEpoch;
    readonly string[] _columns;
    double _trainSecondsBefore;
    bool _resumed;

    /// <summary>Prepares a fresh run in <paramref name="runDirectory"/>; moves the model to the configured device.</summary>
    public Trainer(nn.Module<Tensor, Tensor> model, TrainConfig config, TrainingData data, string runDirectory, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        config.Validate();
        if (data.Train.BatchCount < 1)
            throw new ArgumentException("The training source has no batches.", nameof(data));
        if (config.BestMetric.StartsWith("ema_", StringComparison.Ordinal) && !config.Ema)
            throw new ArgumentException($"BestMetric '{config.BestMetric}' needs Ema = true.", nameof(config));
        Config = config;
        _options = options ?? new TrainerOptions();
        _ownsTask = _options.Task is null;
        _task = _options.Task ?? new ClassificationTask(config, _options.ClassNames);
        string shortMetric = config.BestMetric[4..];
        if (!_task.ReportedMetrics.Contains(shortMetric) && !(_task is ClassificationTask && shortMetric == "f1"))
            throw new ArgumentException($"BestMetric '{config.BestMetric}': this task reports {string.Join(", ", _task.ReportedMetrics)}.", nameof(config));
        _model = model;
        _data = data;
        _folder = new RunFolder(runDirectory, _options.WritePlots);
        _reporter = _options.Reporter ?? NullReporter.Instance;
        _device = torch.device(config.Device);
        _model.to(_device);
        (_optimizer, _lrScales) = ParameterGroups.CreateAdamW(_model, config, _options.Layers, _options.Kernels);
        _parameters = _model.parameters().Where(p => p.requires_grad).ToList();
        _ema = config.Ema ? new ModelEma(_model, config.EmaDecay, config.EmaWarmup) : null;
        _updatesPerEpoch = (data.Train.BatchCount + config.GradAccumSteps - 1) / config.GradAccumSteps;
        _schedule = LrSchedule.FromConfig(config, _updatesPerEpoch);
        _autocast = Autocast.Parse(config.Precision);
        _columns = [.. _task.ReportedMetrics.Select(m => "val_" + m), .. config.Ema ? _task.ReportedMetrics.Select(m => "ema_" + m) : []];
        BestValue = double.NaN;
    }

    /// <summary>The run's configuration.</summary>
    public TrainConfig Config { get; }
    /// <summary>Absolute path of the run folder.</summary>
    public string RunDirectory => _folder.Path;
    /// <summary>Epochs finished so far.</summary>
    public int CompletedEpochs { get; private set; }
    /// <summary>Optimizer updates done so far (the scheduler step).</summary>
    public long Updates { get; private set; }
    /// <summary>Best value of <see cref="TrainConfig.BestMetric"/> so far.</summary>
    public double BestValue { get; private set; }
    /// <summary>Epoch of the best checkpoint (0 before any).</summary>
    public int BestEpoch { get; private set; }
    /// <summary>Per-epoch summaries so far.</summary>
    public IReadOnlyList<EpochSummary> History => _history;
    /// <summary>The learning-rate schedule in use.</summary>
    public LrSchedule Schedule => _schedule;

    /// <summary>
    /// Re-creates the trainer of the run in <paramref name="runDirectory"/> from its config.json and last.safetensors:
    /// weights, optimizer moments and steps, EMA, scheduler step, epoch, history and torch's generator. The model must
    /// have the architecture of the run; the data sources must be the same (deterministic per epoch).
    /// </summary>
    public static Trainer Resume(string runDirectory, nn.Module<Tensor, Tensor> model, TrainingData data, TrainerOptions? options = null)
    {
        var configPath = Path.Combine(runDirectory, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"Cannot resume: '{configPath}' does not exist.", configPath);
        var config = TrainConfig.FromJson(File.ReadAllText(configPath), configPath);
        var classesPath = Path.Combine(runDirectory, "classes.json");
        if (options?.ClassNames is null && File.Exists(classesPath))
            options = (options ?? new TrainerOptions()) with { ClassNames = JsonSerializer.Deserialize<string[]>(File.ReadAllText(classesPath)) };
        var trainer = new Trainer(model, config, data, runDirectory, options);
        try
        {
            trainer.LoadCheckpoint(trainer._folder.Checkpoint("last"));
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
        return trainer;
    }

    /// <summary>
    /// Trains from the current epoch to <see cref="TrainConfig.Epochs"/>, checkpointing after every epoch. Cancellation is
    /// checked after every batch; a cancelled epoch is discarded (resume restarts it from last.safetensors).
    /// </summary>
    public TrainResult Fit(CancellationToken cancellationToken = default)
    {
        if (!_resumed)
        {
            torch.random.manual_seed(Config.Seed);
            _folder.WriteText("config.json", Config.ToJson());
            if (_options.ClassNames is { } names)
                _folder.WriteJson("classes.json", names);
        }
        _reporter.RunStarted(new RunStart(RunDirectory, CompletedEpochs + 1, Config.Epochs, _data.Train.BatchCount, _updatesPerEpoch, _columns));
        var runClock = Stopwatch.StartNew();
        bool stopped = false;
        _model.train();
        for (int epoch = CompletedEpochs + 1; epoch <= Config.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var trainLoss = TrainEpoch(epoch, cancellationToken);
            if (trainLoss is null)
            {
                stopped = true;
                break;
            }
            var summary = EvaluateEpoch(epoch, trainLoss.Value, epochClock);
            _history.Add(summary);
            CompletedEpochs = epoch;
            bool isBest = UpdateBest(summary);
            _trainSecondsBefore += runClock.Elapsed.TotalSeconds;
            runClock.Restart();
            SaveCheckpoint(_folder.Checkpoint("last"));
            _folder.RotateCheckpoints(_history, epoch, isBest, Config.BestMetric, Config.KeepCheckpoints);
            _folder.WriteSummary(_history, _columns);
            _reporter.EpochCompleted(summary, isBest);
            if (cancellationToken.IsCancellationRequested && epoch < Config.Epochs)
            {
                stopped = true;
                break;
            }
        }
        _trainSecondsBefore += runClock.Elapsed.TotalSeconds;
        var (test, split) = stopped ? (null, "") : Finish();
        var result = new TrainResult(RunDirectory, CompletedEpochs, !stopped, Config.BestMetric, BestValue, BestEpoch, test, split,
            _trainSecondsBefore, _history.ToList());
        _reporter.RunCompleted(result);
        return result;
    }

    /// <summary>One epoch of training; returns the mean loss per sample, or null when cancelled.</summary>
    double? TrainEpoch(int epoch, CancellationToken cancellationToken)
    {
        int batches = _data.Train.BatchCount, accum = Config.GradAccumSteps;
        _reporter.EpochStarted(epoch, batches);
        double lossSum = 0;
        long samples = 0;
        int index = 0;
        double lr = _schedule.At(Updates);
        _optimizer.zero_grad();
        foreach (var batch in _data.Train.GetBatches(epoch))
        {
            using (batch)
            {
                if (index >= batches)
                    throw new InvalidOperationException($"The training source yielded more than its BatchCount of {batches} batches in epoch {epoch}.");
                // Micro-batches of one update share its 1/N scale; the last group of an epoch may be shorter.
                int groupStart = index / accum * accum;
                int groupSize = Math.Min(accum, batches - groupStart);
                bool updateNow = index == groupStart + groupSize - 1;
                using (var scope = NewDisposeScope())
                {
                    var x = batch.Inputs.to(_device);   // [B,...]
                    var y = batch.Targets.to(_device);
                    Tensor outputs;
                    using (Autocast.Enable(_autocast))
                        outputs = _model.call(x);
                    var loss = _task.Loss(outputs, y);
                    // The loss is read before backward (a CPU-GPU sync point on CUDA) so a diverging run stops here, naming the batch.
                    double lossValue = loss.item<float>();
                    if (!double.IsFinite(lossValue))
                        throw new InvalidOperationException($"Training loss became {lossValue} at epoch {epoch}, batch {index + 1}; lower the learning rate or check the data.");
                    (groupSize == 1 ? loss : loss / groupSize).backward();
                    lossSum += lossValue * batch.Size;
                    samples += batch.Size;
                    if (updateNow)
                    {
                        lr = _schedule.At(Updates);
                        for (int g = 0; g < _lrScales.Length; g++)
                            _optimizer.ParamGroups.ElementAt(g).LearningRate = lr * _lrScales[g];
                        if (Config.ClipGradNorm > 0)
                            nn.utils.clip_grad_norm_(_parameters, Config.ClipGradNorm);
                        _optimizer.step();
                        _optimizer.zero_grad();
                        Updates++;
                        _ema?.Update(Updates);
                    }
                }
                index++;
                _reporter.StepCompleted(new StepProgress(epoch, index, batches, samples == 0 ? 0 : lossSum / samples, lr, Updates));
            }
            if (cancellationToken.IsCancellationRequested && index < batches)
                return null;
        }
        if (index != batches)
            throw new InvalidOperationException($"The training source yielded {index} batches in epoch {epoch} but reports BatchCount {batches}.");
        return lossSum / samples;
    }

    EpochSummary EvaluateEpoch(int epoch, double trainLoss, Stopwatch epochClock)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { ["train_loss"] = trainLoss };
        if (_data.Validation is { } source)
        {
            // Validation in the training precision (it is a training-time measurement); the final test runs in float32,
            // as 'eval' later does.
            using var autocast = Autocast.Enable(_autocast);
            foreach (var (k, v) in _task.Evaluate(_model, source, _device).Metrics)
                metrics["val_" + k] = v;
            if (_ema is not null)
            {
                using (_ema.Apply())
                    foreach (var (k, v) in _task.Evaluate(_model, source, _device).Metrics)
                        metrics["ema_" + k] = v;
            }
        }
        return new EpochSummary
        {
            Epoch = epoch,
            TrainLoss = trainLoss,
            LearningRate = _schedule.At(Math.Max(0, Updates - 1)),
            Seconds = epochClock.Elapsed.TotalSeconds,
            Metrics = metrics,
        };
    }

    /// <summary>True when this epoch's metric beats the best so far; an epoch without the metric counts as best (last wins).</summary>
    bool UpdateBest(EpochSummary summary)
    {
        if (summary[Config.BestMetric] is not { } value)
        {
            BestEpoch = summary.Epoch;
            return true;
        }
        bool better = double.IsNaN(BestValue)
            || (MetricNames.HigherIsBetter(Config.BestMetric) ? value > BestValue : value < BestValue);
        if (better)
        {
            BestValue = value;
            BestEpoch = summary.Epoch;
        }
        return better;
    }

    void SaveCheckpoint(string path)
    {
        var states = _optimizer.state_dict().State;
        var moments = new List<(Tensor, Tensor)>(states.Count);
        var steps = new long[states.Count];
        for (int i = 0; i < states.Count; i++)
        {
            var st = (AdamW.State)states[i];
            steps[i] = st.step;
            moments.Add((st.exp_avg, st.exp_avg_sq));
        }
        using var torchRng = torch.random.get_rng_state();
        var inv = CultureInfo.InvariantCulture;
        TrainingCheckpoint.Save(path,
            _model.state_dict().Select(kv => (kv.Key, kv.Value)),
            _ema?.State.Select(kv => (kv.Key, kv.Value)),
            moments, steps, torchRng,
            new Dictionary<string, string>
            {
                ["epoch"] = CompletedEpochs.ToString(inv),
                ["updates"] = Updates.ToString(inv),
                ["best_value"] = BestValue.ToString("R", inv),
                ["best_epoch"] = BestEpoch.ToString(inv),
                ["train_seconds"] = _trainSecondsBefore.ToString("R", inv),
                ["history"] = JsonSerializer.Serialize(_history, ConfigFile.Json),
                ["config"] = Config.ToJson(),
            });
    }

    void LoadCheckpoint(string path)
    {
        using var checkpoint = TrainingCheckpoint.Load(path);
        WeightLoader.Apply(_model, checkpoint.Model, WeightLoadOptions.Exact, path);
        _ema?.Load(checkpoint.Ema, path);
        var states = _optimizer.state_dict().State;
        var steps = checkpoint.OptimizerSteps;
        if (steps.Length != states.Count)
            throw new InvalidDataException($"{path}: holds optimizer state for {steps.Length} parameters; this model has {states.Count}.");
        using (no_grad())
        {
            for (int i = 0; i < states.Count; i++)
            {
                var st = (AdamW.State)states[i];
                var (m, v) = checkpoint.OptimizerMoments(i);
                st.step = steps[i];
                st.exp_avg.copy_(m);
                st.exp_avg_sq.copy_(v);
            }
        }
        torch.random.set_rng_state(checkpoint.TorchRng);
        var inv = CultureInfo.InvariantCulture;
        CompletedEpochs = int.Parse(checkpoint.Required("epoch"), inv);
        Updates = long.Parse(checkpoint.Required("updates"), inv);
        BestValue = double.Parse(checkpoint.Required("best_value"), inv);
        BestEpoch = int.Parse(checkpoint.Required("best_epoch"), inv);
        _trainSecondsBefore = double.Parse(checkpoint.Required("train_seconds"), inv);
        _history.Clear();
        _history.AddRange(JsonSerializer.Deserialize<List<EpochSummary>>(checkpoint.Required("history"), HistoryJson) ?? []);
        _resumed = true;
    }

    /// <summary>
    /// Reads the history of checkpoints from before EpochSummary kept its metrics in one dictionary: their extra typed
    /// fields (val_loss, val_top1, ...) repeat what the dictionary holds and are skipped.
    /// </summary>
    static readonly JsonSerializerOptions HistoryJson = new(ConfigFile.Json) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip };

    /// <summary>End of a completed run: best weights into the model, model.safetensors, test evaluation, metrics.json, plots.</summary>
    (TaskEvaluation? Test, string Split) Finish()
    {
        var best = _folder.Checkpoint("best");
        if (File.Exists(best))
            WeightLoader.Load(_model, best, new WeightLoadOptions { Ema = Config.BestMetric.StartsWith("ema_", StringComparison.Ordinal) });
        SafeTensors.Write(_folder.File("model.safetensors"), _model.state_dict(),
            new Dictionary<string, string> { ["format"] = "pt", ["best_epoch"] = BestEpoch.ToString(CultureInfo.InvariantCulture) });
        var source = _data.Test ?? _data.Validation;
        var test = source is null ? null : _task.Evaluate(_model, source, _device);
        string split = source is null ? "" : _data.Test is not null ? "test" : "validation";
        var metrics = new Dictionary<string, object?>
        {
            ["test_split"] = test is null ? null : split,
            ["test_samples"] = test?.Samples,
            ["train_seconds"] = _trainSecondsBefore,
            ["epochs"] = CompletedEpochs,
            ["best_metric"] = Config.BestMetric,
            ["best_value"] = BestValue,
            ["best_epoch"] = BestEpoch,
        };
        foreach (var (k, v) in _task.WriteFinal(_folder, test))
            metrics[k] = v;
        _folder.WriteJson("metrics.json", metrics);
        _folder.Plot(_history, _columns);
        return (test, split);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _ema?.Dispose();
        if (_ownsTask && _task is IDisposable d) d.Dispose();
    }
}
