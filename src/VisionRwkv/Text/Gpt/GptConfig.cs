using System.Text.Json.Serialization;

namespace VisionRwkv.Text.Gpt;

/// <summary>Shape of the GPT baseline, with nanoGPT's <c>GPTConfig</c> names (karpathy/nanoGPT model.py @3adf61e).</summary>
public sealed record GptConfig
{
    /// <summary>Longest context: the number of learned positions in <c>wpe</c>.</summary>
    [JsonPropertyName("block_size")] public int BlockSize { get; init; } = 1024;

    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 256;

    [JsonPropertyName("n_layer")] public int NLayer { get; init; } = 6;

    [JsonPropertyName("n_head")] public int NHead { get; init; } = 4;

    [JsonPropertyName("n_embd")] public int NEmbd { get; init; } = 256;

    /// <summary>Biases in the Linears and LayerNorms, like GPT-2 (nanoGPT: False is a bit better and faster).</summary>
    [JsonPropertyName("bias")] public bool Bias { get; init; } = true;

    /// <summary>Byte-level, 6 layers of 256 (4 heads of 64): 12C² weights per block, the same as <c>RwkvConfig.Byte6x256</c>.</summary>
    public static GptConfig Byte6x256 => new() { BlockSize = 1024, VocabSize = 256, NLayer = 6, NHead = 4, NEmbd = 256 };

    /// <summary>A very small byte-level model for tests.</summary>
    public static GptConfig Byte2x64 => new() { BlockSize = 256, VocabSize = 256, NLayer = 2, NHead = 2, NEmbd = 64 };
}
