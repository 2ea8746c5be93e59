using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Text.Gpt;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>A language model read from a file, with how its keys matched.</summary>
/// <param name="Model">The model (float32, CPU, eval mode).</param>
/// <param name="Report">Loaded, missing (none, or loading fails), unexpected (ignored) and reshaped keys.</param>
/// <param name="Path">The file.</param>
public sealed record LoadedLanguageModel(ILanguageModel Model, LoadReport Report, string Path);

/// <summary>
/// The text models: named presets (random weights, for training and benchmarks) and loading checkpoints in either
/// family's key names — RWKV-LM (<c>emb.weight</c>, <c>blocks.N.att.time_decay</c>, ...) or nanoGPT
/// (<c>transformer.wte.weight</c>, ...) — from <c>.pth</c> (restricted unpickler) or <c>.safetensors</c>.
/// </summary>
public static class TextModels
{
    private static readonly (string Name, string Description, Func<string, ILanguageModel> Create)[] Presets =
    [
        ("rwkv4_byte_6x256", "RWKV-4, bytes, 6 layers x 256 (ffn 896: 12C² per block, as gpt_byte_6x256)", n => new RwkvLm(RwkvConfig.Byte6x256, n)),
        ("rwkv4_byte_2x64", "RWKV-4, bytes, 2 layers x 64 (tests)", n => new RwkvLm(RwkvConfig.Byte2x64, n)),
        ("rwkv4_pile_169m", "RWKV-4-Pile-169M shape (NeoX 20B tokenizer), random weights", n => new RwkvLm(RwkvConfig.Pile169M, n)),
        ("rwkv4_pile_430m", "RWKV-4-Pile-430M shape, random weights", n => new RwkvLm(RwkvConfig.Pile430M, n)),
        ("gpt_byte_6x256", "GPT (nanoGPT), bytes, 6 layers x 256, 4 heads, block 1024", n => new Gpt.Gpt(GptConfig.Byte6x256, n)),
        ("gpt_byte_2x64", "GPT (nanoGPT), bytes, 2 layers x 64, 2 heads, block 256 (tests)", n => new Gpt.Gpt(GptConfig.Byte2x64, n)),
    ];

    /// <summary>Preset names with a one-line description.</summary>
    public static IReadOnlyList<(string Name, string Description)> All => Presets.Select(p => (p.Name, p.Description)).ToList();

    public static bool IsPreset(string name) => Presets.Any(p => p.Name == name);

    /// <summary>A preset with fresh (initialised, untrained) weights.</summary>
    public static ILanguageModel Create(string name)
    {
        foreach (var p in Presets)
            if (p.Name == name) return p.Create(name);
        throw new ArgumentException($"unknown text model '{name}'; presets: {string.Join(", ", Presets.Select(p => p.Name))}; or give a .pth/.safetensors file", nameof(name));
    }

    /// <summary>A preset name or a checkpoint file.</summary>
    public static LoadedLanguageModel CreateOrLoad(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (IsPreset(nameOrPath))
        {
            var m = Create(nameOrPath);
            var keys = m.Module.state_dict().Keys.ToList();
            return new LoadedLanguageModel(m, new LoadReport(keys, [], [], []), nameOrPath);
        }
        if (!File.Exists(nameOrPath))
            throw new FileNotFoundException($"{nameOrPath}: no such file, and not a text model preset ({string.Join(", ", Presets.Select(p => p.Name))})", nameOrPath);
        return Load(nameOrPath);
    }

    /// <summary>
    /// Reads a checkpoint and builds the model its keys describe, every size inferred from the shapes. bf16/fp16
    /// tensors are upcast to float32; <c>time_*</c> vectors stored as [C] or [1,1,C] are accepted either way; tensors
    /// the model does not have are reported in <see cref="LoadedLanguageModel.Report"/> and ignored; a missing one or
    /// a shape that does not fit fails with the file's name.
    /// </summary>
    public static LoadedLanguageModel Load(string path)
    {
        using var checkpoint = CheckpointIO.Load(path);
        var sd = StripWrappers(checkpoint.Tensors);
        string name = System.IO.Path.GetFileNameWithoutExtension(path);
        ILanguageModel model;
        if (sd.ContainsKey("emb.weight"))
            model = new RwkvLm(RwkvConfig.FromWeights(sd, path), name);
        else if (sd.ContainsKey("transformer.wte.weight"))
            model = new Gpt.Gpt(GptFromWeights(sd, checkpoint.Metadata, path), name);
        else
            throw new InvalidDataException($"{path}: neither an RWKV-4 language model (emb.weight, blocks.N.att.*) nor a nanoGPT model (transformer.wte.weight); first keys: {string.Join(", ", sd.Keys.Take(5))}");
        try
        {
            var report = CopyInto(model.Module, sd, path);
            model.Module.eval();
            return new LoadedLanguageModel(model, report, path);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes a model's weights (safetensors or .pth by extension) with its family in the metadata.</summary>
    public static void Save(ILanguageModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var meta = new Dictionary<string, string>
        {
            ["family"] = model is RwkvLm ? "rwkv4" : "gpt",
            ["name"] = model.Name,
        };
        if (model is Gpt.Gpt g)
        {
            meta["n_head"] = g.Config.NHead.ToString(System.Globalization.CultureInfo.InvariantCulture);
            meta["bias"] = g.Config.Bias ? "true" : "false";
        }
        CheckpointIO.Save(path, model.Module.state_dict(), meta);
    }

    private static Dictionary<string, Tensor> StripWrappers(IReadOnlyDictionary<string, Tensor> source)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, t) in source)
        {
            var k = key;
            bool stripped;
            do
            {
                stripped = false;
                foreach (var prefix in CheckpointConverter.WrapperPrefixes)
                {
                    if (k.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        k = k[prefix.Length..];
                        stripped = true;
                    }
                }
            } while (stripped);
            result[k] = t;
        }
        return result;
    }

    /// <summary>
    /// nanoGPT sizes from the weights; the head count is not in the shapes, so it comes from the file's metadata
    /// (<c>n_head</c>, written by <see cref="Save"/>) or, failing that, head size 64.
    /// </summary>
    private static GptConfig GptFromWeights(IReadOnlyDictionary<string, Tensor> sd, IReadOnlyDictionary<string, string> meta, string path)
    {
        var wte = sd["transformer.wte.weight"];
        if (!sd.TryGetValue("transformer.wpe.weight", out var wpe))
            throw new InvalidDataException($"{path}: no transformer.wpe.weight (the GPT's learned positions)");
        int layers = sd.Keys.Where(k => k.StartsWith("transformer.h.", StringComparison.Ordinal))
            .Select(k => int.Parse(k.AsSpan(14, k.IndexOf('.', 14) - 14), System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        int c = (int)wte.shape[1];
        int heads = meta.TryGetValue("n_head", out var h) && int.TryParse(h, out int nh) ? nh : Math.Max(1, c / 64);
        return new GptConfig
        {
            VocabSize = (int)wte.shape[0], NEmbd = c, BlockSize = (int)wpe.shape[0], NLayer = layers, NHead = heads,
            Bias = sd.ContainsKey("transformer.h.0.attn.c_attn.bias"),
        };
    }

    /// <summary>Copies matching tensors into the module (float32, reshaped where only singleton dims differ).</summary>
    private static LoadReport CopyInto(nn.Module module, IReadOnlyDictionary<string, Tensor> sd, string path)
    {
        var target = module.state_dict();
        var loaded = new List<string>();
        var missing = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        using (no_grad())
        {
            foreach (var (key, dst) in target)
            {
                if (!sd.TryGetValue(key, out var src))
                {
                    missing.Add(key);
                    continue;
                }
                if (src.numel() != dst.numel() || !SameIgnoringOnes(src.shape, dst.shape))
                {
                    mismatches.Add(new ShapeMismatch(key, dst.shape, src.shape));
                    continue;
                }
                if (!src.is_floating_point())
                    throw new InvalidDataException($"{path}: {key} is {src.dtype}, expected floating-point weights");
                using var converted = src.to(dst.dtype).reshape(dst.shape);
                dst.copy_(converted);
                loaded.Add(key);
            }
        }
        var unexpected = sd.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var report = new LoadReport(loaded, missing, unexpected, mismatches);
        if (missing.Count > 0 || mismatches.Count > 0)
            throw new InvalidDataException($"{path}: does not fit the model its shapes describe: {report}");
        return report;
    }

    private static bool SameIgnoringOnes(long[] a, long[] b) =>
        a.Where(d => d != 1).SequenceEqual(b.Where(d => d != 1));
}
