using TorchSharp;

namespace VisionRwkv.Checkpoints;

/// <summary>
/// Maps the key layouts checkpoints come in to ours, which is mmcls <c>ImageClassifier</c>'s
/// (<c>backbone.layers.0.att.key.weight</c>, <c>head.fc.weight</c>) and checks keys and shapes in both directions;
/// <see cref="WeightLoader"/> then copies tensors into a module. Renaming never copies tensor data: the returned
/// dictionaries share the tensors.
/// </summary>
public static class CheckpointConverter
{
    /// <summary>Prefixes that training wrappers add: DataParallel/DDP (<c>module.</c>) and torch.compile (<c>_orig_mod.</c>).</summary>
    public static readonly IReadOnlyList<string> WrapperPrefixes = ["module.", "_orig_mod."];

    /// <summary>Starts of keys that belong to a Vision-RWKV backbone when the <c>backbone.</c> prefix was stripped.</summary>
    private static readonly string[] BackboneStarts = ["patch_embed.", "pos_embed", "layers.", "ln1.", "cls_token", "norm."];

    /// <summary>
    /// Renames keys: removes <paramref name="stripPrefix"/> where a key starts with it, then prepends
    /// <paramref name="addPrefix"/> to every key. Throws when two keys collide after renaming.
    /// </summary>
    public static Dictionary<string, torch.Tensor> RenamePrefixes(IReadOnlyDictionary<string, torch.Tensor> source, string? stripPrefix, string? addPrefix)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Rename(source, key =>
        {
            if (!string.IsNullOrEmpty(stripPrefix) && key.StartsWith(stripPrefix, StringComparison.Ordinal))
                key = key[stripPrefix.Length..];
            return (addPrefix ?? "") + key;
        });
    }

    /// <summary>
    /// Normalises a loaded state dict to our layout: strips <see cref="WrapperPrefixes"/> (repeatedly, in any order),
    /// then, when <paramref name="expected"/> (the model's keys and shapes) is given, renames a key <c>k</c> that the
    /// model lacks to <c>backbone.k</c> (downstream files strip <c>backbone.</c>) or <c>head.weight/bias</c> to
    /// <c>head.fc.weight/bias</c> (timm) when the model has that name. Without <paramref name="expected"/>,
    /// <c>backbone.</c> is added when no key has it or <c>head.</c> and the keys look like a bare backbone.
    /// </summary>
    public static Dictionary<string, torch.Tensor> Normalise(IReadOnlyDictionary<string, torch.Tensor> source, IReadOnlyDictionary<string, long[]>? expected = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var stripped = Rename(source, StripWrappers);
        if (expected is null)
        {
            var bare = stripped.Keys.All(k => !k.StartsWith("backbone.", StringComparison.Ordinal) && !k.StartsWith("head.", StringComparison.Ordinal))
                       && stripped.Keys.Any(k => BackboneStarts.Any(s => k.StartsWith(s, StringComparison.Ordinal)));
            return bare ? Rename(stripped, k => "backbone." + k) : stripped;
        }
        return Rename(stripped, key =>
        {
            if (expected.ContainsKey(key))
                return key;
            if (expected.ContainsKey("backbone." + key))
                return "backbone." + key;
            if (key is "head.weight" or "head.bias" && expected.ContainsKey("head.fc." + key[5..]))
                return "head.fc." + key[5..];
            return key;
        });
    }

    /// <summary>Compares a state dict (already normalised) with a model's expected keys and shapes.</summary>
    public static LoadReport Match(IReadOnlyDictionary<string, torch.Tensor> stateDict, IReadOnlyDictionary<string, long[]> expected)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(expected);
        var loaded = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        foreach (var (key, shape) in expected)
        {
            if (!stateDict.TryGetValue(key, out var t))
                continue;
            if (t.shape.SequenceEqual(shape))
                loaded.Add(key);
            else
                mismatches.Add(new ShapeMismatch(key, shape, t.shape));
        }
        var missing = expected.Keys.Where(k => !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        return new LoadReport(loaded, missing, unexpected, mismatches);
    }

    /// <summary>The keys and shapes of a module's state_dict (parameters and persistent buffers).</summary>
    public static Dictionary<string, long[]> ExpectedShapes(torch.nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
    }

    private static string StripWrappers(string key)
    {
        bool changed;
        do
        {
            changed = false;
            foreach (var p in WrapperPrefixes)
            {
                if (key.StartsWith(p, StringComparison.Ordinal))
                {
                    key = key[p.Length..];
                    changed = true;
                }
            }
        }
        while (changed);
        return key;
    }

    private static Dictionary<string, torch.Tensor> Rename(IReadOnlyDictionary<string, torch.Tensor> source, Func<string, string> map)
    {
        var result = new Dictionary<string, torch.Tensor>(source.Count, StringComparer.Ordinal);
        foreach (var (key, t) in source)
        {
            var renamed = map(key);
            if (!result.TryAdd(renamed, t))
                throw new InvalidOperationException($"renaming keys maps two tensors to '{renamed}' (the second was '{key}')");
        }
        return result;
    }
}
