using System.Text.Json;

namespace VisionRwkv.Text.Tokenizers;

/// <summary>
/// The GPT-NeoX 20B byte-level BPE of the RWKV-4 Pile models, from its HuggingFace <c>tokenizer.json</c>
/// (ChatRWKV's <c>20B_tokenizer.json</c>: NFC normaliser, ByteLevel pre-tokenizer, 50,254 BPE tokens plus 23 added
/// ones, among them runs of spaces that are split off before BPE).
/// <para>
/// Library choice: Tokenizers.DotNet wraps HuggingFace's own Rust <c>tokenizers</c>, the library ChatRWKV calls
/// (<c>Tokenizer.from_file</c>), so the ids are the reference's by construction and the file is read as it is.
/// Microsoft.ML.Tokenizers 2.0.1 is fully managed, but its BPE does not read a tokenizer.json: we would rebuild the
/// added-token splitting, the NFC step and the byte-level mapping around it ourselves, exactly what parity is about.
/// The cost is a native library per platform (we reference linux-x64's).
/// </para>
/// </summary>
public sealed class NeoxTokenizer : ITokenizer, IDisposable
{
    private readonly global::Tokenizers.DotNet.Tokenizer _tokenizer;

    private NeoxTokenizer(string name, global::Tokenizers.DotNet.Tokenizer tokenizer, int vocabSize)
    {
        Name = name;
        _tokenizer = tokenizer;
        VocabSize = vocabSize;
    }

    public string Name { get; }

    public int VocabSize { get; }

    /// <summary>Loads a HuggingFace tokenizer.json (any, in fact; the NeoX one is what the Pile models need).</summary>
    public static NeoxTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such tokenizer file", path);
        int vocab;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            int max = -1;
            if (root.TryGetProperty("model", out var model) && model.TryGetProperty("vocab", out var v) && v.ValueKind == JsonValueKind.Object)
                foreach (var p in v.EnumerateObject()) max = Math.Max(max, p.Value.GetInt32());
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var t in added.EnumerateArray()) max = Math.Max(max, t.GetProperty("id").GetInt32());
            if (max < 0) throw new InvalidDataException($"{path}: no model.vocab in this tokenizer.json");
            vocab = max + 1;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a tokenizer.json ({e.Message})", e);
        }
        global::Tokenizers.DotNet.Tokenizer tokenizer;
        try
        {
            tokenizer = new global::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        }
        catch (Exception e) when (e is DllNotFoundException or global::Tokenizers.DotNet.TokenizerException)
        {
            throw new InvalidOperationException($"{path}: HuggingFace tokenizers could not load it: {e.Message}", e);
        }
        return new NeoxTokenizer($"bpe ({Path.GetFileName(path)}, {vocab} tokens)", tokenizer, vocab);
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        return Array.ConvertAll(_tokenizer.Encode(text), id => (int)id);
    }

    public string Decode(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) return "";
        var ids = new uint[tokens.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)VocabSize)
                throw new ArgumentException($"{Name}: token {tokens[i]} at position {i} is not in the vocabulary", nameof(tokens));
            ids[i] = (uint)tokens[i];
        }
        return _tokenizer.Decode(ids);
    }

    public void Dispose() => _tokenizer.Dispose();
}
