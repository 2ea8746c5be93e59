namespace VisionRwkv.Text.Tokenizers;

/// <summary>Opens a tokenizer from a command-line style spec.</summary>
public static class TokenizerFactory
{
    /// <summary>
    /// <c>bytes</c>; <c>world:FILE</c> or a <c>.txt</c> file (RWKV World vocabulary); <c>bpe:FILE</c> / <c>neox:FILE</c>
    /// or a <c>.json</c> file (HuggingFace tokenizer.json, e.g. 20B_tokenizer.json). Null picks bytes for a
    /// 256-token model and otherwise asks for a file.
    /// </summary>
    public static ITokenizer Open(string? spec, int modelVocab)
    {
        if (string.IsNullOrEmpty(spec))
        {
            if (modelVocab == 256) return new ByteTokenizer();
            throw new ArgumentException($"the model has {modelVocab} tokens: give --tokenizer (a World vocabulary .txt, or a tokenizer.json such as 20B_tokenizer.json for {50277}-token Pile models)");
        }
        ITokenizer t = spec switch
        {
            "bytes" => new ByteTokenizer(),
            _ when spec.StartsWith("world:", StringComparison.Ordinal) => WorldTokenizer.Load(spec[6..]),
            _ when spec.StartsWith("bpe:", StringComparison.Ordinal) => NeoxTokenizer.Load(spec[4..]),
            _ when spec.StartsWith("neox:", StringComparison.Ordinal) => NeoxTokenizer.Load(spec[5..]),
            _ when spec.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) => WorldTokenizer.Load(spec),
            _ when spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase) => NeoxTokenizer.Load(spec),
            _ => throw new ArgumentException($"tokenizer '{spec}': use bytes, world:FILE (.txt) or bpe:FILE (tokenizer.json)"),
        };
        if (t.VocabSize > modelVocab)
            throw new ArgumentException($"tokenizer {t.Name} has {t.VocabSize} ids but the model only {modelVocab}");
        return t;
    }
}
