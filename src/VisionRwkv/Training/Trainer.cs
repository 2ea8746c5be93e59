using VisionRwkv.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Checkpoints;
using static TorchSharp.torch;

namespace VisionRwkv.Training;

/// <summary>The data of a run: training batches, optional validation and test batches.</summary>
/// <param name="Train">Training source (shuffled per epoch by its seed).</param>
/// <param name="Validation">Evaluated after every epoch; picks the best checkpoint.</param>
/// <param name="Test">Evaluated once at the end with the best weights; validation is used when absent.</param>
public sealed record TrainingData(IBatchSource Train, IBatchSource? Validation = null, IBatchSource? Test = null);

/// <summary>Things a run needs that are not configuration: reporting, hooks, class names.</summary>
public sealed record TrainerOptions
{
    /// <summary>Progress sink; nothing is reported when null.</summary>
    public ITrainingReporter? Reporter { get; init; }
    /// <summary>Batch rewrite (mixup/CutMix). When null and the config turns mixup or CutMix on, <see cref="MixupCutmix"/> is used.</summary>
    public IBatchHook? BatchHook { get; init; }
    /// <summary>K, the number of classes; needed only by batch hooks. Defaults to the class-name count, else probed once.</summary>
    public int? NumClasses { get; init; }
    /// <summary>Class names in index order; written to classes.json and used in reports and plots.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>Draw loss/accuracy/confusion PNGs at the end of the run.</summary>
    public bool WritePlots { get; init; } = true;
}

/// <summary>Outcome of <see cref="Trainer.Fit"/>.</summary>
/// <param name="RunDirectory">The run folder.</param>
/// <param name="EpochsCompleted">Epochs done (over all resumes).</param>
/// <param name="Completed">False when stopped by cancellation before the last epoch.</param>
/// <param name="BestMetric">Name of the selection metric.</param>
/// <param name="BestValue">Its best value (NaN when never measured).</param>
/// <param name="BestEpoch">Epoch of best.safetensors.</param>
/// <param name="Test">Final evaluation with the best weights (null when stopped early).</param>
/// <param name="TrainSeconds">Wall-clock seconds of training over all resumes.</param>
/// <param name="History">One summary per epoch.</param>
public sealed record TrainResult(string RunDirectory, int EpochsCompleted, bool Completed, string BestMetric, double BestValue,
    int BestEpoch, EvaluationReport? Test, double TrainSeconds, IReadOnlyList<EpochSummary> History);

/// <summary>
/// Trains any image classifier (images [B,C,H,W] -> logits [B,K]) with AdamW, cosine/warm-up, label smoothing, gradient
/// accumulation and clipping, EMA, mixup/CutMix hooks, and writes a run folder:
/// config.json, classes.json, summary.csv, metrics.json, last/best/epoch-NNNN.safetensors, model.safetensors and plots.
/// After a completed <see cref="Fit"/> the model holds the best weights (EMA weights when the best metric is an ema_ one).
/// </summary>
public sealed class Trainer : IDisposable
{
    const string Format = "vision-rwkv-train/1";
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    readonly nn.Module<Tensor, Tensor> _model;
    readonly TrainingData _data;
    readonly TrainerOptions _options;
    readonly ITrainingReporter _reporter;
    readonly IBatchHook? _hook;
    readonly Device _device;
    readonly AdamW _optimizer;
    readonly List<Parameter> _parameters;
    readonly ModelEma? _ema;
    readonly Tensor? _posWeight;
    readonly TrainingRng _rng;
    readonly List<EpochSummary> _history = [];
    readonly LrSchedule _schedule;
    readonly int _updatesPerEpoch;
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
        if (!config.MultiLabel && config.BestMetric.EndsWith("auroc", StringComparison.Ordinal) || !config.MultiLabel && config.BestMetric.EndsWith("_ap", StringComparison.Ordinal))
            throw new ArgumentException($"BestMetric '{config.BestMetric}' needs MultiLabel = true.", nameof(config));
        if (config.BestMetric.StartsWith("ema_", StringComparison.Ordinal) && !config.Ema)
            throw new ArgumentException($"BestMetric '{config.BestMetric}' needs Ema = true.", nameof(config));
        Config = config;
        RunDirectory = Path.GetFullPath(runDirectory);
        _model = model;
        _data = data;
        _options = options ?? new TrainerOptions();
        _reporter = _options.Reporter ?? NullReporter.Instance;
        _hook = _options.BatchHook ?? (config.MixupAlpha > 0 || config.CutmixAlpha > 0 ? new MixupCutmix(config) : null);
        _device = torch.device(config.Device);
        _model.to(_device);
        _optimizer = ParameterGroups.CreateAdamW(_model, config);
        _parameters = _model.parameters().Where(p => p.requires_grad).ToList();
        _ema = config.Ema ? new ModelEma(_model, config.EmaDecay, config.EmaWarmup) : null;
        _posWeight = config.PosWeight is null ? null
            : torch.tensor(config.PosWeight, dtype: ScalarType.Float32).to(_device).DetachFromDisposeScope();
        _rng = new TrainingRng(unchecked((ulong)config.Seed));
        _updatesPerEpoch = (data.Train.BatchCount + config.GradAccumSteps - 1) / config.GradAccumSteps;
        _schedule = LrSchedule.FromConfig(config, _updatesPerEpoch);
        BestValue = double.NaN;
    }

    /// <summary>The run's configuration.</summary>
    public TrainConfig Config { get; }
    /// <summary>Absolute path of the run folder.</summary>
    public string RunDirectory { get; }
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
    /// weights, optimizer moments and steps, EMA, scheduler step, epoch, history and both RNG states. The model must have
    /// the architecture of the run; the data sources must be the same (deterministic per epoch and seed).
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
            trainer.LoadCheckpoint(Path.Combine(runDirectory, "last.safetensors"));
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
        Directory.CreateDirectory(RunDirectory);
        if (!_resumed)
        {
            torch.random.manual_seed(Config.Seed);
            AtomicFile.WriteText(Path.Combine(RunDirectory, "config.json"), Config.ToJson());
            if (_options.ClassNames is { } names)
                AtomicFile.WriteText(Path.Combine(RunDirectory, "classes.json"), JsonSerializer.Serialize(names, Json));
        }
        _reporter.RunStarted(new RunStart(RunDirectory, CompletedEpochs + 1, Config.Epochs, _data.Train.BatchCount, _updatesPerEpoch));
        var runClock = Stopwatch.StartNew();
        bool stopped = false;
        _model.train();
        for (int epoch = CompletedEpochs + 1; epoch <= Config.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var rngAtEpochStart = _rng.State;
            var trainLoss = TrainEpoch(epoch, cancellationToken);
            if (trainLoss is null)
            {
                _rng.State = rngAtEpochStart;
                stopped = true;
                break;
            }
            var summary = EvaluateEpoch(epoch, trainLoss.Value, epochClock);
            _history.Add(summary);
            CompletedEpochs = epoch;
            bool isBest = UpdateBest(summary);
            _trainSecondsBefore += runClock.Elapsed.TotalSeconds;
            runClock.Restart();
            WriteCheckpoints(epoch, isBest);
            WriteSummaryCsv();
            _reporter.EpochCompleted(summary, isBest);
            if (cancellationToken.IsCancellationRequested && epoch < Config.Epochs)
            {
                stopped = true;
                break;
            }
        }
        _trainSecondsBefore += runClock.Elapsed.TotalSeconds;
        EvaluationReport? test = null;
        if (!stopped)
            test = Finish();
        var result = new TrainResult(RunDirectory, CompletedEpochs, !stopped, Config.BestMetric, BestValue, BestEpoch, test,
            _trainSecondsBefore, _history.ToList());
        _reporter.RunCompleted(result);
        return result;
    }

    /// <summary>One epoch of training; returns the mean loss per sample, or null when cancelled.</summary>
    double? TrainEpoch(int epoch, CancellationToken cancellationToken)
    {
        int batches = _data.Train.BatchCount, accum = Config.GradAccumSteps;
        _reporter.EpochStarted(epoch, batches);
        ulong epochSeed = _rng.NextUInt64();
        double lossSum = 0;
        long samples = 0;
        int index = 0;
        double lr = _schedule.At(Updates);
        _optimizer.zero_grad();
        foreach (var batch in _data.Train.GetBatches(epoch, epochSeed))
        {
            using (batch)
            {
                if (index >= batches)
                    throw new InvalidOperationException($"The training source yielded more than its BatchCount of {batches} batches in epoch {epoch}.");
                // Micro-batches of one update share its 1/N scale; the last group of an epoch may be shorter.
                int groupStart = index / accum * accum;
                int groupSize = Math.Min(accum, batches - groupStart);
                bool updateNow = index == groupStart + groupSize - 1;
                var hookRng = _hook is null ? null : _rng.NextRandom();
                using (var scope = NewDisposeScope())
                {
                    var x = batch.Inputs.to(_device); // [B,C,H,W]
                    var y = batch.Targets.to(_device);
                    if (_hook is not null)
                        (x, y) = _hook.Apply(x, y, NumClasses(), hookRng!);
                    var logits = _model.call(x);       // [B,K]
                    var loss = Losses.Compute(logits, y, Config.MultiLabel, Config.LabelSmoothing, _posWeight);
                    double lossValue = loss.item<float>();
                    if (!double.IsFinite(lossValue))
                        throw new InvalidOperationException($"Training loss became {lossValue} at epoch {epoch}, batch {index + 1}; lower the learning rate or check the data.");
                    (groupSize == 1 ? loss : loss / groupSize).backward();
                    lossSum += lossValue * batch.Size;
                    samples += batch.Size;
                    if (updateNow)
                    {
                        lr = _schedule.At(Updates);
                        foreach (var g in _optimizer.ParamGroups) g.LearningRate = lr;
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

    int _numClasses;

    /// <summary>K for batch hooks: from the options, else one eval-mode, no-grad forward of the first training batch.</summary>
    int NumClasses()
    {
        if (_numClasses > 0) return _numClasses;
        _numClasses = _options.NumClasses ?? _options.ClassNames?.Count ?? 0;
        if (_numClasses > 0) return _numClasses;
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            using var first = _data.Train.GetBatches(0, 0).First();
            _numClasses = (int)_model.call(first.Inputs.to(_device)).shape[1];
        }
        finally
        {
            _model.train(wasTraining);
        }
        return _numClasses;
    }

    EpochSummary EvaluateEpoch(int epoch, double trainLoss, Stopwatch epochClock)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { ["train_loss"] = trainLoss };
        EvaluationReport? val = null, ema = null;
        if (_data.Validation is { } source)
        {
            val = Evaluator.Evaluate(_model, source, EvalOptions());
            AddMetrics(metrics, "val_", val);
            if (_ema is not null)
            {
                using (_ema.Apply())
                    ema = Evaluator.Evaluate(_model, source, EvalOptions());
                AddMetrics(metrics, "ema_", ema);
            }
        }
        return new EpochSummary
        {
            Epoch = epoch,
            TrainLoss = trainLoss,
            ValLoss = val?.Loss,
            ValTop1 = val?.Top1,
            ValTop5 = val?.Top5,
            EmaTop1 = ema?.Top1,
            ValAuroc = val?.MultiLabelMetrics?.MacroAuroc,
            LearningRate = _schedule.At(Math.Max(0, Updates - 1)),
            Seconds = epochClock.Elapsed.TotalSeconds,
            Metrics = metrics,
        };
    }

    static void AddMetrics(Dictionary<string, double> metrics, string prefix, EvaluationReport report)
    {
        foreach (var name in new[] { "top1", "top5", "loss", "f1", "auroc", "ap" })
        {
            var v = report.Metric(name);
            if (!double.IsNaN(v)) metrics[prefix + name] = v;
        }
    }

    EvaluateOptions EvalOptions() => new()
    {
        MultiLabel = Config.MultiLabel,
        PosWeight = Config.PosWeight,
        ClassNames = _options.ClassNames,
        Device = Config.Device,
    };

    /// <summary>True when this epoch's metric beats the best so far; an epoch without the metric counts as best (last wins).</summary>
    bool UpdateBest(EpochSummary summary)
    {
        if (!summary.Metrics.TryGetValue(Config.BestMetric, out var value))
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

    string CheckpointPath(string name) => Path.Combine(RunDirectory, name + ".safetensors");

    void WriteCheckpoints(int epoch, bool isBest)
    {
        var last = CheckpointPath("last");
        SaveCheckpoint(last);
        if (isBest)
            AtomicFile.Copy(last, CheckpointPath("best"));
        if (Config.KeepCheckpoints <= 0) return;
        // Keep the N best epochs by the metric (the N latest when the metric is never measured), like timm's checkpoint-hist.
        bool higher = MetricNames.HigherIsBetter(Config.BestMetric);
        var ranked = _history
            .OrderBy(h => h.Metrics.TryGetValue(Config.BestMetric, out var v) ? (higher ? -v : v) : 0.0)
            .ThenByDescending(h => h.Epoch)
            .Take(Config.KeepCheckpoints)
            .Select(h => h.Epoch)
            .ToHashSet();
        if (ranked.Contains(epoch))
            AtomicFile.Copy(last, CheckpointPath(EpochName(epoch)));
        foreach (var h in _history)
        {
            var path = CheckpointPath(EpochName(h.Epoch));
            if (!ranked.Contains(h.Epoch) && File.Exists(path)) File.Delete(path);
        }
    }

    static string EpochName(int epoch) => "epoch-" + epoch.ToString("D4", CultureInfo.InvariantCulture);

    void SaveCheckpoint(string path)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, t) in _model.state_dict())
            tensors.Add(KeyValuePair.Create("model." + name, t));
        if (_ema is not null)
            foreach (var (name, t) in _ema.State)
                tensors.Add(KeyValuePair.Create("ema." + name, t));
        var states = _optimizer.state_dict().State;
        var steps = new long[states.Count];
        for (int i = 0; i < states.Count; i++)
        {
            var st = (AdamW.State)states[i];
            steps[i] = st.step;
            tensors.Add(KeyValuePair.Create($"optimizer.{i}.exp_avg", st.exp_avg));
            tensors.Add(KeyValuePair.Create($"optimizer.{i}.exp_avg_sq", st.exp_avg_sq));
        }
        using var torchRng = torch.random.get_rng_state();
        tensors.Add(KeyValuePair.Create("rng.torch", torchRng));
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["epoch"] = CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["updates"] = Updates.ToString(CultureInfo.InvariantCulture),
            ["rng_state"] = _rng.State.ToString(CultureInfo.InvariantCulture),
            ["optimizer_steps"] = string.Join(",", steps),
            ["best_value"] = BestValue.ToString("R", CultureInfo.InvariantCulture),
            ["best_epoch"] = BestEpoch.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = _trainSecondsBefore.ToString("R", CultureInfo.InvariantCulture),
            ["history"] = JsonSerializer.Serialize(_history, Json),
            ["config"] = Config.ToJson(),
        };
        CheckpointStore.Save(path, tensors, meta);
    }

    void LoadCheckpoint(string path)
    {
        var (tensors, meta) = CheckpointStore.Load(path);
        try
        {
            if (!meta.TryGetValue("format", out var format) || format != Format)
                throw new InvalidDataException($"'{path}' is not a training checkpoint of this toolkit (format '{format}').");
            LoadModelState(_model, tensors, "model.", path);
            if (_ema is not null)
                _ema.Load(Strip(tensors, "ema."), path);
            var states = _optimizer.state_dict().State;
            var steps = meta["optimizer_steps"].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
            if (steps.Length != states.Count)
                throw new InvalidDataException($"'{path}' holds optimizer state for {steps.Length} parameters; this model has {states.Count}.");
            using (no_grad())
            {
                for (int i = 0; i < states.Count; i++)
                {
                    var st = (AdamW.State)states[i];
                    st.step = steps[i];
                    st.exp_avg.copy_(Required(tensors, $"optimizer.{i}.exp_avg", path));
                    st.exp_avg_sq.copy_(Required(tensors, $"optimizer.{i}.exp_avg_sq", path));
                }
            }
            torch.random.set_rng_state(Required(tensors, "rng.torch", path));
            CompletedEpochs = int.Parse(meta["epoch"], CultureInfo.InvariantCulture);
            Updates = long.Parse(meta["updates"], CultureInfo.InvariantCulture);
            _rng.State = ulong.Parse(meta["rng_state"], CultureInfo.InvariantCulture);
            BestValue = double.Parse(meta["best_value"], CultureInfo.InvariantCulture);
            BestEpoch = int.Parse(meta["best_epoch"], CultureInfo.InvariantCulture);
            _trainSecondsBefore = double.Parse(meta["train_seconds"], CultureInfo.InvariantCulture);
            _history.Clear();
            _history.AddRange(JsonSerializer.Deserialize<List<EpochSummary>>(meta["history"], Json) ?? []);
            _resumed = true;
        }
        catch (KeyNotFoundException e)
        {
            throw new InvalidDataException($"'{path}' lacks training metadata: {e.Message}", e);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    static Tensor Required(Dictionary<string, Tensor> tensors, string key, string path) =>
        tensors.TryGetValue(key, out var t) ? t : throw new InvalidDataException($"'{path}' lacks tensor '{key}'.");

    static Dictionary<string, Tensor> Strip(Dictionary<string, Tensor> tensors, string prefix) =>
        tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Copies tensors named prefix + state_dict key into the model, checking names and shapes.</summary>
    internal static void LoadModelState(nn.Module model, Dictionary<string, Tensor> tensors, string prefix, string path)
    {
        using var _ = no_grad();
        foreach (var (name, target) in model.state_dict())
        {
            var source = Required(tensors, prefix + name, path);
            if (!source.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"'{path}': '{prefix + name}' has shape [{string.Join(",", source.shape)}] but the model expects [{string.Join(",", target.shape)}].");
            target.copy_(source);
        }
    }

    /// <summary>Loads the model (or EMA) weights of a training checkpoint, or a bare model.safetensors, into <paramref name="model"/>.</summary>
    public static void LoadWeights(nn.Module model, string path, bool useEma = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, _) = CheckpointStore.Load(path);
        try
        {
            bool training = tensors.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal));
            if (useEma && !tensors.Keys.Any(k => k.StartsWith("ema.", StringComparison.Ordinal)))
                throw new InvalidDataException($"'{path}' holds no EMA weights.");
            LoadModelState(model, tensors, useEma ? "ema." : training ? "model." : "", path);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>End of a completed run: best weights into the model, test evaluation, metrics.json, model.safetensors, plots.</summary>
    EvaluationReport? Finish()
    {
        var best = CheckpointPath("best");
        if (File.Exists(best))
            LoadWeights(_model, best, useEma: Config.BestMetric.StartsWith("ema_", StringComparison.Ordinal));
        CheckpointStore.Save(Path.Combine(RunDirectory, "model.safetensors"), _model.state_dict().ToList(),
            new Dictionary<string, string> { ["format"] = "pt", ["best_epoch"] = BestEpoch.ToString(CultureInfo.InvariantCulture) });
        var source = _data.Test ?? _data.Validation;
        EvaluationReport? test = source is null ? null : Evaluator.Evaluate(_model, source, EvalOptions());
        string split = _data.Test is not null ? "test" : "validation";
        var metrics = new Dictionary<string, object?>
        {
            ["test_split"] = test is null ? null : split,
            ["test_top1"] = test?.Top1,
            ["test_top5"] = test?.Top5,
            ["test_loss"] = test?.Loss,
            ["test_macro_f1"] = test?.MacroF1,
            ["test_auroc_macro"] = test?.MultiLabelMetrics?.MacroAuroc,
            ["test_ap_macro"] = test?.MultiLabelMetrics?.MacroAveragePrecision,
            ["test_samples"] = test?.Samples,
            ["train_seconds"] = _trainSecondsBefore,
            ["epochs"] = CompletedEpochs,
            ["best_metric"] = Config.BestMetric,
            ["best_value"] = BestValue,
            ["best_epoch"] = BestEpoch,
            ["per_class"] = test?.PerClass,
            ["per_label_auroc"] = test?.MultiLabelMetrics?.Auroc,
            ["confusion_matrix"] = test?.ConfusionMatrix,
        };
        AtomicFile.WriteText(Path.Combine(RunDirectory, "metrics.json"), JsonSerializer.Serialize(metrics, Json));
        if (test?.ConfusionMatrix is { } cm)
            WriteConfusionCsv(cm);
        if (_options.WritePlots)
        {
            Plots.SaveLossCurves(_history, Path.Combine(RunDirectory, "loss.png"));
            Plots.SaveAccuracyCurves(_history, Path.Combine(RunDirectory, "accuracy.png"));
            if (test?.ConfusionMatrix is { } matrix)
                Plots.SaveConfusionMatrix(matrix, _options.ClassNames, Path.Combine(RunDirectory, "confusion.png"));
        }
        return test;
    }

    void WriteConfusionCsv(long[][] cm)
    {
        var names = Enumerable.Range(0, cm.Length).Select(i => Csv(ClassificationMetrics.Name(_options.ClassNames, i))).ToList();
        var sb = new StringBuilder("true\\predicted," + string.Join(",", names) + "\n");
        for (int r = 0; r < cm.Length; r++)
            sb.Append(names[r]).Append(',').AppendJoin(",", cm[r]).Append('\n');
        AtomicFile.WriteText(Path.Combine(RunDirectory, "confusion_matrix.csv"), sb.ToString());
    }

    static string Csv(string s) => s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal)
        ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    /// <summary>summary.csv: one row per epoch; blank cells for metrics that were not measured.</summary>
    void WriteSummaryCsv()
    {
        static string F(double? v) => v is { } d ? d.ToString("G9", CultureInfo.InvariantCulture) : "";
        var sb = new StringBuilder("epoch,train_loss,val_loss,val_top1,val_top5,ema_top1,val_auroc,lr,seconds\n");
        foreach (var h in _history)
            sb.Append(CultureInfo.InvariantCulture, $"{h.Epoch},{F(h.TrainLoss)},{F(h.ValLoss)},{F(h.ValTop1)},{F(h.ValTop5)},{F(h.EmaTop1)},{F(h.ValAuroc)},{F(h.LearningRate)},{F(h.Seconds)}\n");
        AtomicFile.WriteText(Path.Combine(RunDirectory, "summary.csv"), sb.ToString());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _ema?.Dispose();
        _posWeight?.Dispose();
    }
}
