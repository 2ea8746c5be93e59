using System.Globalization;
using System.Text;

namespace VisionRwkv.Text.Tokenizers;

/// <summary>
/// The RWKV "World" tokenizer (BlinkDL ChatRWKV <c>rwkv_tokenizer.py</c>, TRIE_TOKENIZER): greedy longest match over
/// the bytes of the UTF-8 text against a vocabulary file with one token per line, <c>id literal length</c>, where the
/// literal is a Python <c>repr</c> of a str (<c>'\t\t'</c>, <c>'╠'</c>, <c>'\u2002'</c>) or of bytes
/// (<c>b'\xe0\xb8'</c>) and length is its byte count (e.g. <c>rwkv_vocab_v20230424.txt</c>, 65,529 tokens, ids 1..65529).
/// Written here because no served library implements it; the trie holds every token's bytes, so encoding is one
/// walk per token.
/// </summary>
public sealed class WorldTokenizer : ITokenizer
{
    private readonly byte[][] _tokens;                       // by id; empty for ids without a token
    private readonly Dictionary<long, int> _children = [];   // (node << 8 | byte) -> child node
    private readonly List<int> _tokenAt = [-1];              // node -> token id ending there, or -1

    private WorldTokenizer(string name, byte[][] tokens)
    {
        Name = name;
        _tokens = tokens;
        for (int id = 0; id < tokens.Length; id++)
        {
            if (tokens[id].Length == 0) continue;
            int node = 0;
            foreach (var b in tokens[id])
            {
                long key = ((long)node << 8) | b;
                if (!_children.TryGetValue(key, out int child))
                {
                    child = _tokenAt.Count;
                    _tokenAt.Add(-1);
                    _children[key] = child;
                }
                node = child;
            }
            _tokenAt[node] = id;
        }
    }

    public string Name { get; }

    public int VocabSize => _tokens.Length;

    /// <summary>Reads a vocabulary file; a malformed line fails with the file, line number and reason.</summary>
    public static WorldTokenizer Load(string path)
    {
        var lines = File.ReadAllText(path, Encoding.UTF8).Split('\n');
        var entries = new Dictionary<int, byte[]>();
        for (int n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (line.Length == 0) continue;
            try
            {
                var (id, bytes) = ParseLine(line);
                if (!entries.TryAdd(id, bytes))
                    throw new FormatException($"token id {id} appears twice");
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{path}:{n + 1}: {e.Message}", e);
            }
        }
        if (entries.Count == 0) throw new InvalidDataException($"{path}: no tokens");
        var tokens = new byte[entries.Keys.Max() + 1][];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = entries.TryGetValue(i, out var b) ? b : [];
        return new WorldTokenizer($"world ({Path.GetFileName(path)}, {entries.Count} tokens)", tokens);
    }

    /// <summary>Parses <c>id literal length</c>: the literal is everything between the first and the last space.</summary>
    internal static (int Id, byte[] Bytes) ParseLine(string line)
    {
        int first = line.IndexOf(' ', StringComparison.Ordinal), last = line.LastIndexOf(' ');
        if (first < 0 || last <= first)
            throw new FormatException($"expected 'id literal length', got '{line}'");
        if (!int.TryParse(line.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            throw new FormatException($"bad token id '{line[..first]}'");
        if (!int.TryParse(line.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length))
            throw new FormatException($"bad byte length '{line[(last + 1)..]}'");
        var bytes = PythonLiteral.Parse(line[(first + 1)..last]);
        if (bytes.Length != length)
            throw new FormatException($"token {id} has {bytes.Length} bytes but the line says {length}");
        if (bytes.Length == 0)
            throw new FormatException($"token {id} is empty");
        return (id, bytes);
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var src = Encoding.UTF8.GetBytes(text);
        var ids = new List<int>(src.Length / 3 + 1);
        int i = 0;
        while (i < src.Length)
        {
            int node = 0, bestId = -1, bestEnd = i;
            for (int j = i; j < src.Length && _children.TryGetValue(((long)node << 8) | src[j], out node); j++)
            {
                if (_tokenAt[node] >= 0)
                    (bestId, bestEnd) = (_tokenAt[node], j + 1);
            }
            if (bestId < 0)
                throw new ArgumentException($"{Name}: byte 0x{src[i]:X2} at offset {i} starts no token", nameof(text));
            ids.Add(bestId);
            i = bestEnd;
        }
        return [.. ids];
    }

    public string Decode(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var bytes = new List<byte>();
        for (int i = 0; i < tokens.Count; i++)
        {
            int id = tokens[i];
            if ((uint)id >= (uint)_tokens.Length || _tokens[id].Length == 0)
                throw new ArgumentException($"{Name}: token {id} at position {i} is not in the vocabulary", nameof(tokens));
            bytes.AddRange(_tokens[id]);
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>The bytes of one token (empty for an id without one).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : [];
}
