using VisionRwkv.Common;
using VisionRwkv.Text.Gpt;
using VisionRwkv.Training;

namespace VisionRwkv.Text.Training;

/// <summary>
/// Everything a language-model training run needs: the model (a preset of <see cref="TextModels"/>, optionally resized),
/// the text, the window length and number of windows, and the engine's <see cref="TrainConfig"/>. Bound from YAML or
/// JSON by <see cref="ConfigFile"/> (keys in snake_case: model, data, n_layer, n_embd, dim_ffn, n_head, seq_len,
/// steps_per_epoch, val_tokens, tokenizer, train: {...}); the resolved spec is written to the run folder as text_run.json.
/// </summary>
public sealed record TextRunSpec
{
    /// <summary>A text model preset (rwkv4_... or gpt_...); its family and defaults for every size not given below.</summary>
    public string Model { get; init; } = "rwkv4_byte_2x64";
    /// <summary>The text: <c>fortunes</c>, <c>fortunes:FOLDER</c> or a UTF-8 text file (<see cref="TextCorpus.Open"/>).</summary>
    public string Data { get; init; } = "fortunes";
    /// <summary>Blocks (overrides the preset).</summary>
    public int? NLayer { get; init; }
    /// <summary>Width C (overrides the preset).</summary>
    public int? NEmbd { get; init; }
    /// <summary>RWKV channel-mix width (default 3.5·C when the width is overridden: 12·C² per block like a GPT block).</summary>
    public int? DimFfn { get; init; }
    /// <summary>GPT attention heads (default C/64, at least 1, when the width is overridden).</summary>
    public int? NHead { get; init; }
    /// <summary>Tokens per training window (T); the GPT's block size is at least this.</summary>
    public int SeqLen { get; init; } = 128;
    /// <summary>Random windows are drawn in this many batches per epoch (an epoch is a budget, not a pass over the text).</summary>
    public int StepsPerEpoch { get; init; } = 100;
    /// <summary>Validation after each epoch reads only the first this-many tokens of the validation text (0 = all).</summary>
    public int ValTokens { get; init; } = 32_768;
    /// <summary>bytes (default), world:FILE or bpe:FILE (<see cref="Tokenizers.TokenizerFactory"/>).</summary>
    public string? Tokenizer { get; init; }
    /// <summary>The training engine's settings.</summary>
    public TrainConfig Train { get; init; } = Defaults;

    /// <summary>
    /// Language-model defaults: no label smoothing, selection by validation loss, a short warm-up, β2 = 0.99 (moments
    /// that adapt within a few hundred steps, as in the vision main job), weight decay 0.01 and clipping at 1.
    /// </summary>
    public static TrainConfig Defaults => new()
    {
        Epochs = 10,
        BatchSize = 16,
        LearningRate = 2e-3,
        Beta2 = 0.99,
        WarmupEpochs = 0,
        WarmupSteps = 50,
        MinLrRatio = 0.1,
        WeightDecay = 0.01,
        LabelSmoothing = 0,
        ClipGradNorm = 1.0,
        BestMetric = "val_loss",
        KeepCheckpoints = 0,
    };

    /// <summary>A fresh model of this spec (weights from torch's current generator).</summary>
    public ILanguageModel CreateModel()
    {
        var preset = TextModels.Create(Model);
        switch (preset)
        {
            case RwkvLm rwkv:
            {
                var c = rwkv.Config;
                int width = NEmbd ?? c.NEmbd;
                var config = c with
                {
                    NLayer = NLayer ?? c.NLayer,
                    NEmbd = width,
                    DimFfn = DimFfn ?? (NEmbd is null ? c.DimFfn : width * 7 / 2),
                };
                return config == c ? preset : Replace(preset, () => new RwkvLm(config, Model));
            }
            case Gpt.Gpt gpt:
            {
                var c = gpt.Config;
                int width = NEmbd ?? c.NEmbd;
                var config = c with
                {
                    NLayer = NLayer ?? c.NLayer,
                    NEmbd = width,
                    NHead = NHead ?? (NEmbd is null ? c.NHead : Math.Max(1, width / 64)),
                    BlockSize = Math.Max(c.BlockSize, SeqLen),
                };
                return config == c ? preset : Replace(preset, () => new Gpt.Gpt(config, Model));
            }
            default:
                preset.Dispose();
                throw new NotSupportedException($"{Model}: not a model this run can build");
        }
    }

    private static ILanguageModel Replace(ILanguageModel preset, Func<ILanguageModel> create)
    {
        preset.Dispose();
        return create();
    }

    /// <summary>Reads a YAML or JSON text run config (or a run folder's text_run.json).</summary>
    public static TextRunSpec Load(string path) => ConfigFile.Load<TextRunSpec>(path);

    /// <summary>The resolved spec as JSON.</summary>
    public string ToJson() => ConfigFile.ToJson(this);
}
