using TorchSharp;
using VisionRwkv.Layers;
using static TorchSharp.torch;

namespace VisionRwkv.Checkpoints;

/// <summary>How <see cref="WeightLoader"/> treats a checkpoint that does not match the model exactly.</summary>
public sealed record WeightLoadOptions
{
    /// <summary>
    /// False (evaluation, prediction, resume, golden checks): every key and shape must match, else nothing is loaded and
    /// the error lists the differences. True (fine-tuning, <c>--init-from</c>): a head of another class count keeps its
    /// initialisation, position embeddings are resized to the model's grid, a 3-channel input conv is adapted to 1
    /// channel (sum over channels) or a 1-channel one to 3 (repeat and divide by 3), keys the model lacks are reported
    /// and skipped; any other shape difference is still an error.
    /// </summary>
    public bool Adapt { get; init; }

    /// <summary>From a training checkpoint, take the EMA weights instead of the raw ones.</summary>
    public bool Ema { get; init; }

    public static WeightLoadOptions Exact { get; } = new();

    public static WeightLoadOptions FineTune { get; } = new() { Adapt = true };
}

/// <summary>
/// The one way weights get into a model: from a run folder of ours (its model.safetensors), a training checkpoint
/// (model. or ema. weights), a bare .safetensors, or a PyTorch .pth read by the restricted unpickler (mmcls layout with
/// the state dict under <c>state_dict</c>, <c>backbone.*</c>/<c>head.*</c> keys, a DataParallel <c>module.</c> prefix
/// stripped). Returns a <see cref="LoadReport"/> saying what was loaded, skipped, re-initialised, resized or adapted.
/// </summary>
public static class WeightLoader
{
    /// <summary>The weights file a path names: a run folder's model.safetensors, or the file itself.</summary>
    public static string ResolveFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            var model = Path.Combine(path, "model.safetensors");
            if (File.Exists(model)) return model;
            var best = Path.Combine(path, "best.safetensors");
            if (File.Exists(best)) return best;
            throw new FileNotFoundException($"{path}: a folder without model.safetensors or best.safetensors (not a finished run folder)");
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or folder", path);
        return path;
    }

    /// <summary>Reads the state dict a path names (see <see cref="ResolveFile"/>); the caller disposes the result.</summary>
    public static Checkpoint ReadStateDict(string path, bool ema = false)
    {
        var file = ResolveFile(path);
        var checkpoint = CheckpointIO.Load(file);
        if (!TrainingCheckpoint.Is(checkpoint.Metadata))
        {
            if (ema)
            {
                checkpoint.Dispose();
                throw new InvalidDataException($"{file}: holds no EMA weights (not a training checkpoint)");
            }
            return checkpoint;
        }
        // A training checkpoint: keep only the model (or EMA) weights, without their prefix.
        var prefix = ema ? "ema." : "model.";
        var all = checkpoint.TakeTensors();
        var picked = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, t) in all)
        {
            if (k.StartsWith(prefix, StringComparison.Ordinal)) picked[k[prefix.Length..]] = t;
            else t.Dispose();
        }
        if (picked.Count == 0)
            throw new InvalidDataException($"{file}: holds no {(ema ? "EMA" : "model")} weights");
        return new Checkpoint(file, picked, checkpoint.Metadata);
    }

    /// <summary>Loads the weights <paramref name="path"/> names into <paramref name="model"/>.</summary>
    public static LoadReport Load(nn.Module model, string path, WeightLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= WeightLoadOptions.Exact;
        using var checkpoint = ReadStateDict(path, options.Ema);
        return Apply(model, checkpoint.Tensors, options, checkpoint.Path);
    }

    /// <summary>
    /// Loads a state dict into <paramref name="model"/> (under no_grad, converting dtype and device), after stripping
    /// wrapper prefixes and mapping bare-backbone keys (<see cref="CheckpointConverter.Normalise"/>).
    /// </summary>
    public static LoadReport Apply(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, WeightLoadOptions options, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(options);
        var targets = model.state_dict();
        var expected = targets.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        var normalised = CheckpointConverter.Normalise(stateDict, expected);
        var match = CheckpointConverter.Match(normalised, expected);
        if (!options.Adapt)
        {
            if (!match.IsExact)
                throw new InvalidDataException($"{source}: the weights do not match the model{Environment.NewLine}{match}");
            using var noGrad = no_grad();
            foreach (var key in match.Loaded)
                targets[key].copy_(normalised[key]);
            return match with { Source = source };
        }

        var layout = model as ICheckpointLayout;
        var headKeys = layout?.HeadKeys ?? (IReadOnlyCollection<string>)[];
        var loaded = new List<string>(match.Loaded);
        var reinitialised = new List<string>();
        var resized = new List<Adaptation>();
        var adapted = new List<Adaptation>();
        var mismatches = new List<ShapeMismatch>();
        var converted = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        foreach (var m in match.ShapeMismatches)
        {
            var source4 = normalised[m.Key];
            if (headKeys.Contains(m.Key))
                reinitialised.Add(m.Key);
            else if (layout?.PositionEmbeddings.TryGetValue(m.Key, out var pe) == true && ResizePositions(source4, pe.Grid, pe.PrefixTokens) is { } pos)
            {
                converted[m.Key] = pos.Tensor;
                resized.Add(new Adaptation(m.Key, $"token grid {pos.From} -> {pe.Grid} (bicubic)"));
            }
            else if (m.Key == layout?.InputConvKey && AdaptInputChannels(source4, m.Expected) is { } conv)
            {
                converted[m.Key] = conv;
                adapted.Add(new Adaptation(m.Key, source4.shape[1] > m.Expected[1]
                    ? $"{source4.shape[1]} input channels summed to {m.Expected[1]}"
                    : $"{source4.shape[1]} input channel repeated to {m.Expected[1]} and divided by {m.Expected[1]}"));
            }
            else
                mismatches.Add(m);
        }
        if (mismatches.Count > 0)
            throw new InvalidDataException($"{source}: shapes differ where no adaptation applies{Environment.NewLine}"
                + string.Join(Environment.NewLine, mismatches.Select(m => "  " + m)));
        // A head the checkpoint lacks altogether (a backbone-only file) also keeps its initialisation.
        var missing = new List<string>();
        foreach (var key in match.Missing)
            (headKeys.Contains(key) ? reinitialised : missing).Add(key);
        if (loaded.Count + converted.Count == 0)
            throw new InvalidDataException($"{source}: none of its {stateDict.Count} tensors matches a parameter of the model{Environment.NewLine}{match}");
        using (no_grad())
        {
            foreach (var key in loaded)
                targets[key].copy_(normalised[key]);
            foreach (var (key, t) in converted)
                targets[key].copy_(t);
        }
        loaded.AddRange(converted.Keys);
        return new LoadReport(loaded, missing, match.Unexpected, [])
        {
            Source = source,
            Reinitialised = reinitialised,
            Resized = resized,
            Adapted = adapted,
        };
    }

    /// <summary>A [1, P + h0*w0, C] embedding on a square grid resized to <paramref name="to"/>; null when it is not one.</summary>
    private static (Tensor Tensor, PatchGrid From)? ResizePositions(Tensor pos, PatchGrid to, int prefix)
    {
        if (pos.dim() != 3 || pos.shape[0] != 1 || pos.shape[1] <= prefix)
            return null;
        long n = pos.shape[1] - prefix, side = (long)Math.Round(Math.Sqrt(n));
        if (side * side != n)
            return null;   // a non-square source grid cannot be inferred from the shape alone
        var from = new PatchGrid(side, side);
        var grid = PositionEmbedding.Resize(pos.narrow(1, prefix, n), from, to);            // [1,h*w,C]
        var result = prefix == 0 ? grid : cat([pos.narrow(1, 0, prefix), grid], 1);         // [1,P+h*w,C]
        return (result, from);
    }

    /// <summary>
    /// timm's adapt_input_conv: [O,3,k,k] -> [O,1,k,k] by summing the input channels (a gray image seen as equal RGB gives
    /// the same response); [O,1,k,k] -> [O,3,k,k] by repeating and dividing by 3 (an RGB image of equal channels gives the
    /// 1-channel response). Null for other channel counts.
    /// </summary>
    private static Tensor? AdaptInputChannels(Tensor w, long[] expected)
    {
        if (w.dim() != 4 || expected.Length != 4 || w.shape[0] != expected[0] || w.shape[2] != expected[2] || w.shape[3] != expected[3])
            return null;
        long from = w.shape[1], to = expected[1];
        var w32 = w.to(ScalarType.Float32);
        if (from == 3 && to == 1)
            return w32.sum(1, keepdim: true);                        // [O,1,k,k]
        if (from == 1 && to == 3)
            return w32.repeat(1, 3, 1, 1).div(3.0);                  // [O,3,k,k]
        return null;
    }
}
