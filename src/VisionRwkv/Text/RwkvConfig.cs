using System.Text.Json.Serialization;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Text;

/// <summary>
/// Shape of an RWKV-4 language model (BlinkDL RWKV-LM <c>RWKV-v4neo</c> args). Checkpoints carry no config: load
/// them with <see cref="FromWeights"/>, which reads every size from the tensor shapes, as ChatRWKV does.
/// </summary>
public sealed record RwkvConfig
{
    /// <summary>Number of blocks.</summary>
    [JsonPropertyName("n_layer")] public int NLayer { get; init; } = 6;

    /// <summary>Width C of the residual stream.</summary>
    [JsonPropertyName("n_embd")] public int NEmbd { get; init; } = 256;

    /// <summary>Hidden width of the channel mix; 4·C in the released RWKV-4 models, 2·C in rwkv.cpp's tiny test model.</summary>
    [JsonPropertyName("dim_ffn")] public int DimFfn { get; init; } = 1024;

    /// <summary>Vocabulary size: 256 for bytes, 50277 for the GPT-NeoX 20B BPE (Pile models), 65536 for "World".</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 256;

    /// <summary>Which WKV implementation the parallel mode uses (the fast one unless a test asks for another).</summary>
    [JsonIgnore] public WkvImplementation Wkv { get; init; } = WkvImplementation.Auto;

    /// <summary>
    /// Byte-level model with 3.5·C channel-mix width: 4C² (time mix) + 2·3.5C² + C² (channel mix) = 12C² weights per
    /// block, exactly a GPT block's 12C² (attention 4C², MLP 8C²), so that <c>rwkv4_byte_6x256</c> and
    /// <c>gpt_byte_6x256</c> compare at equal parameters.
    /// </summary>
    public static RwkvConfig Byte6x256 => new() { NLayer = 6, NEmbd = 256, DimFfn = 896, VocabSize = 256 };

    /// <summary>A very small byte-level model for tests and the notebook.</summary>
    public static RwkvConfig Byte2x64 => new() { NLayer = 2, NEmbd = 64, DimFfn = 256, VocabSize = 256 };

    /// <summary>RWKV-4-Pile-169M (GPT-NeoX 20B tokenizer, ctx 1024).</summary>
    public static RwkvConfig Pile169M => new() { NLayer = 12, NEmbd = 768, DimFfn = 3072, VocabSize = 50277 };

    /// <summary>RWKV-4-Pile-430M.</summary>
    public static RwkvConfig Pile430M => new() { NLayer = 24, NEmbd = 1024, DimFfn = 4096, VocabSize = 50277 };

    /// <summary>
    /// Sizes read from a state dict with RWKV-LM key names: layers from the largest <c>blocks.N.</c>, width and
    /// vocabulary from <c>emb.weight</c> [V,C], channel-mix width from <c>blocks.0.ffn.key.weight</c> [F,C].
    /// </summary>
    public static RwkvConfig FromWeights(IReadOnlyDictionary<string, Tensor> stateDict, string source = "state dict")
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        if (!stateDict.TryGetValue("emb.weight", out var emb) || emb.dim() != 2)
            throw new InvalidDataException($"{source}: no 2-D 'emb.weight' tensor, so this is not an RWKV-4 language model (keys like blocks.0.att.time_decay expected)");
        if (!stateDict.TryGetValue("blocks.0.ffn.key.weight", out var ffnKey) || ffnKey.dim() != 2)
            throw new InvalidDataException($"{source}: no 2-D 'blocks.0.ffn.key.weight' tensor (the channel-mix width is read from it)");
        int layers = 0;
        foreach (var key in stateDict.Keys)
        {
            if (!key.StartsWith("blocks.", StringComparison.Ordinal)) continue;
            int dot = key.IndexOf('.', 7);
            if (dot > 7 && int.TryParse(key.AsSpan(7, dot - 7), out int id))
                layers = Math.Max(layers, id + 1);
        }
        return new RwkvConfig
        {
            NLayer = layers,
            NEmbd = (int)emb.shape[1],
            DimFfn = (int)ffnKey.shape[0],
            VocabSize = (int)emb.shape[0],
        };
    }
}
