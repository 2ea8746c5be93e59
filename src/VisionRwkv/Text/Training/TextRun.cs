using TorchSharp;
using VisionRwkv.Common;
using VisionRwkv.Text.Tokenizers;
using VisionRwkv.Runtime;
using VisionRwkv.Training;
using static TorchSharp.torch;

namespace VisionRwkv.Text.Training;

/// <summary>What a finished (or stopped) text run produced.</summary>
/// <param name="Result">The trainer's outcome.</param>
/// <param name="Parameters">Parameters of the model.</param>
/// <param name="Corpus">The text it trained and was tested on.</param>
/// <param name="ModelPath">The run folder's model.safetensors (best weights), readable by <see cref="TextModels.Load"/>.</param>
public sealed record TextRunResult(TrainResult Result, long Parameters, TextCorpus Corpus, string ModelPath)
{
    /// <summary>The final evaluation (held-out test text) with the best weights; null when the run was stopped.</summary>
    public LanguageModelEvaluation? Test => Result.Test?.Report as LanguageModelEvaluation;
}

/// <summary>
/// Trains a causal language model from a <see cref="TextRunSpec"/> on the project's <see cref="Trainer"/> (AdamW,
/// cosine schedule, clipping, checkpoints, exact resume, run folder), the whole run in one call: opens and tokenizes
/// the text, builds the batch sources and the model, trains, and rewrites the run folder's model.safetensors with the
/// text model's metadata (family, GPT head count) so that <c>rwkv text eval/generate --model RUN/model.safetensors</c>
/// reopen it. <c>rwkv text train</c> is this call with a console reporter.
/// </summary>
public static class TextRun
{
    /// <summary>The file in a run folder that holds the resolved spec (what <see cref="Resume"/> reads).</summary>
    public const string SpecFile = "text_run.json";

    /// <summary>Trains <paramref name="spec"/> into <paramref name="runDirectory"/> (created; must not hold another run).</summary>
    public static TextRunResult Train(TextRunSpec spec, string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        if (File.Exists(Path.Combine(runDirectory, SpecFile)) || File.Exists(Path.Combine(runDirectory, "run.json")))
            throw new IOException($"{runDirectory}: already holds a run; resume it with --resume or choose another folder");
        // A train: section in a config file starts from TrainConfig's image defaults; the classification metric and
        // label smoothing mean nothing here.
        var t = spec.Train;
        if (!t.BestMetric.EndsWith("loss", StringComparison.Ordinal) && !t.BestMetric.EndsWith("bpb", StringComparison.Ordinal))
            t = t with { BestMetric = "val_loss" };
        spec = spec with { Train = t with { Device = Devices.Resolve(t.Device), LabelSmoothing = 0 } };
        return Run(spec, runDirectory, resume: false, options ?? new RunOptions(), cancellationToken);
    }

    /// <summary>Continues the run in <paramref name="runDirectory"/> exactly where its last checkpoint left it.</summary>
    public static TextRunResult Resume(string runDirectory, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(runDirectory, SpecFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: not a run folder of 'rwkv text train' ({SpecFile} missing)", path);
        return Run(TextRunSpec.Load(path), runDirectory, resume: true, options ?? new RunOptions(), cancellationToken);
    }

    private static TextRunResult Run(TextRunSpec spec, string runDirectory, bool resume, RunOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(spec.SeqLen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(spec.StepsPerEpoch, 1);
        var corpus = TextCorpus.Open(spec.Data);
        manual_seed(spec.Train.Seed);
        using var model = spec.CreateModel();
        var tokenizer = TokenizerFactory.Open(spec.Tokenizer, model.VocabSize);
        try
        {
            var train = tokenizer.Encode(corpus.Train);
            var val = tokenizer.Encode(corpus.Validation);
            var test = tokenizer.Encode(corpus.Test);
            if (spec.ValTokens > 0 && val.Length > spec.ValTokens) val = val[..spec.ValTokens];
            int bs = spec.Train.BatchSize;
            var data = new TrainingData(
                TextBatchSource.Random(train, bs, spec.SeqLen, spec.StepsPerEpoch, spec.Train.Seed),
                val.Length >= 2 ? TextBatchSource.Sequential(val, bs, spec.SeqLen) : null,
                test.Length >= 2 ? TextBatchSource.Sequential(test, bs, spec.SeqLen) : null);

            var folder = new RunFolder(runDirectory);
            if (!resume)
                AtomicFile.WriteText(folder.File(SpecFile), spec.ToJson());
            long parameters = model.Module.parameters().Sum(p => p.numel());
            options.Log?.WriteLine($"model  {spec.Model} ({model.GetType().Name}, {parameters / 1e6:0.00}M params, vocab {model.VocabSize}, {Describe(model)})");
            options.Log?.WriteLine($"data   {corpus.Description}");
            options.Log?.WriteLine($"tokens train {train.Length:N0}, val {val.Length:N0}, test {test.Length:N0} ({tokenizer.Name}); windows of {spec.SeqLen}, {bs} x {spec.StepsPerEpoch} per epoch");
            options.Log?.WriteLine($"device {spec.Train.Device}, {get_num_threads()} torch threads");

            var trainerOptions = new TrainerOptions
            {
                Task = new LanguageModelTask(tokenizer),
                Reporter = options.Reporter,
                WritePlots = options.WritePlots,
                Kernels = options.Kernels,
            };
            TrainResult result;
            using (var trainer = resume
                ? Trainer.Resume(runDirectory, model.Module, data, trainerOptions)
                : new Trainer(model.Module, spec.Train, data, runDirectory, trainerOptions))
                result = trainer.Fit(cancellationToken);

            var modelPath = folder.File("model.safetensors");
            if (result.Completed)
            {
                // The trainer wrote the best weights without the text model's metadata (the GPT's head count is not in
                // the shapes); write them again as TextModels.Save does, on the CPU.
                model.Module.to(CPU);
                TextModels.Save(model, modelPath);
            }
            return new TextRunResult(result, parameters, corpus, modelPath);
        }
        finally
        {
            (tokenizer as IDisposable)?.Dispose();
        }
    }

    private static string Describe(ILanguageModel model) => model switch
    {
        RwkvLm r => $"{r.Config.NLayer} layers x {r.Config.NEmbd}, ffn {r.Config.DimFfn}",
        Gpt.Gpt g => $"{g.Config.NLayer} layers x {g.Config.NEmbd}, {g.Config.NHead} heads, block {g.Config.BlockSize}",
        _ => model.Name,
    };
}
