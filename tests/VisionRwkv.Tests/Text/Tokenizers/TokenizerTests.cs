using System.Text;
using VisionRwkv.Tests.Checkpoints;
using VisionRwkv.Text.Tokenizers;

namespace VisionRwkv.Tests.Text.Tokenizers;

public class TokenizerTests
{
    /// <summary>A paragraph with ASCII, punctuation, runs of spaces, a tab, accents, CJK and an emoji.</summary>
    internal const string Paragraph =
        "In a shocking finding, scientists discovered a herd of dragons living in a remote, previously unexplored valley\n" +
        "in Tibet.    Even more surprising\tto the researchers was the fact that the dragons spoke perfect Chinese: " +
        "\"你好，世界\" — naïve café, 1234.5 % done! 🐉\n\n";

    [Fact]
    public void Bytes_round_trip_any_text_and_a_split_character_decodes_to_a_replacement_mark()
    {
        var t = new ByteTokenizer();
        var ids = t.Encode(Paragraph);
        Assert.Equal(Encoding.UTF8.GetByteCount(Paragraph), ids.Length);
        Assert.Equal(Paragraph, t.Decode(ids));
        Assert.Equal([34, 105, 110], t.Encode("\"in"));                                // the golden's prompt
        var dragon = t.Encode("🐉");
        Assert.Equal(4, dragon.Length);
        Assert.Contains('\uFFFD', t.Decode(dragon[..2]));
        Assert.Throws<ArgumentException>(() => t.Decode([300]));
    }

    [Theory]
    [InlineData("'\\t\\t'", new byte[] { 9, 9 })]
    [InlineData("b'\\xe0\\xb8'", new byte[] { 0xE0, 0xB8 })]
    [InlineData("\"'\"", new byte[] { 39 })]
    [InlineData("'\\'\"'", new byte[] { 39, 34 })]
    [InlineData("b'\\\\'", new byte[] { 92 })]
    [InlineData("'\\u2002'", new byte[] { 0xE2, 0x80, 0x82 })]
    [InlineData("'\\x85'", new byte[] { 0xC2, 0x85 })]                       // in a str, \x85 is U+0085
    [InlineData("b'\\x85'", new byte[] { 0x85 })]                            // in bytes, the byte 0x85
    [InlineData("'╠'", new byte[] { 0xE2, 0x95, 0xA0 })]
    [InlineData("'\\U0001f409'", new byte[] { 0xF0, 0x9F, 0x90, 0x89 })]
    [InlineData("b' b\\xc4\\x99dzie'", new byte[] { 32, 98, 0xC4, 0x99, 100, 122, 105, 101 })]
    [InlineData("'\\0'", new byte[] { 0 })]
    public void Python_literals_of_the_world_vocabulary_parse_to_their_bytes(string literal, byte[] expected) =>
        Assert.Equal(expected, PythonLiteral.Parse(literal));

    [Theory]
    [InlineData("'abc")]
    [InlineData("b'é'")]
    [InlineData("'a\\x4'")]
    [InlineData("abc")]
    public void Malformed_literals_are_rejected(string literal) =>
        Assert.Throws<FormatException>(() => PythonLiteral.Parse(literal));

    [Fact]
    public void World_encoding_takes_the_longest_vocabulary_match_at_each_position()
    {
        using var dir = new TempDir();
        var path = dir.File("vocab.txt", WorldFixture());
        var t = WorldTokenizer.Load(path);
        Assert.Equal(261, t.VocabSize);
        // "abc" beats "ab" beats "a"; " the" is one token; '╠' is one 3-byte token; 'x' falls back to its byte.
        Assert.Equal([258, 257, 259, 260, 121], t.Encode("abcab the╠x"));
        Assert.Equal("abcab the╠x", t.Decode(t.Encode("abcab the╠x")));
        Assert.Equal(Paragraph, t.Decode(t.Encode(Paragraph)));                  // bytes cover everything else
        Assert.Throws<ArgumentException>(() => t.Decode([0]));                  // id 0 has no token
    }

    [Fact]
    public void A_bad_world_vocabulary_line_is_reported_with_file_and_line()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.txt", "1 b'\\x00' 1\n2 'ab' 3\n");
        var e = Assert.Throws<InvalidDataException>(() => WorldTokenizer.Load(path));
        Assert.Contains("bad.txt:2", e.Message);
        Assert.Contains("2 bytes but the line says 3", e.Message);
    }

    [Fact]
    public void A_huggingface_byte_level_bpe_file_encodes_with_its_merges_and_decodes_back()
    {
        using var dir = new TempDir();
        var path = dir.File("tokenizer.json", BpeFixture());
        using var t = NeoxTokenizer.Load(path);
        Assert.Equal(6, t.VocabSize);
        // Pre-tokenised as "ab", "Ġab", "Ġb" (Ġ is the byte-level space); merges a+b and Ġ+ab.
        Assert.Equal([3, 4, 2], t.Encode("ab ab b"));
        Assert.Equal("ab ab b", t.Decode([3, 4, 2]));
        Assert.Equal("ba", t.Decode([1, 0]));
    }

    [SkippableFact]
    public void The_real_world_vocabulary_round_trips_a_paragraph()
    {
        var path = RealVocab("rwkv_vocab_v20230424.txt");
        var t = WorldTokenizer.Load(path);
        Assert.Equal(65530, t.VocabSize);
        var ids = t.Encode(Paragraph);
        Assert.Equal(Paragraph, t.Decode(ids));
        Assert.True(ids.Length < Encoding.UTF8.GetByteCount(Paragraph) / 2, $"{ids.Length} tokens: the vocabulary should merge most words");
        Assert.Equal([261], t.Encode("\n\n"));                                   // line 261 of the file: '\n\n'
    }

    [SkippableFact]
    public void The_real_neox_20b_tokenizer_round_trips_a_paragraph()
    {
        var path = RealVocab("20B_tokenizer.json");
        using var t = NeoxTokenizer.Load(path);
        Assert.Equal(50277, t.VocabSize);                                         // the Pile models' vocabulary
        var ids = t.Encode(Paragraph);
        Assert.Equal(Paragraph, t.Decode(ids));
        Assert.Equal([187], t.Encode("\n"));
        Assert.Equal([0], t.Encode("<|endoftext|>"));                            // an added special token
    }

    /// <summary>Real vocabulary files: $RWKV_TOKENIZER_DIR or ../shared/tokenizers; the test is skipped without them.</summary>
    private static string RealVocab(string file)
    {
        var dirs = new[] { Environment.GetEnvironmentVariable("RWKV_TOKENIZER_DIR"), Path.Combine(TestPaths.Goldens, "..", "tokenizers") };
        var found = dirs.Where(d => !string.IsNullOrEmpty(d)).Select(d => Path.Combine(d!, file)).FirstOrDefault(File.Exists);
        Skip.If(found is null, $"{file} not at hand (set RWKV_TOKENIZER_DIR to a folder holding it; ChatRWKV ships it)");
        return found!;
    }

    /// <summary>256 byte tokens (ids 1..256, ChatRWKV's layout) plus 'ab', 'abc', ' the' and '╠'.</summary>
    private static string WorldFixture()
    {
        var sb = new StringBuilder();
        for (int b = 0; b < 256; b++) sb.Append(b + 1).Append(" b'\\x").Append(b.ToString("x2")).Append("' 1\n");
        sb.Append("257 'ab' 2\n258 'abc' 3\n259 ' the' 4\n260 '╠' 3\n");
        return sb.ToString();
    }

    private static string BpeFixture() => """
        {
          "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
          "normalizer": null,
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
          "post_processor": null,
          "decoder": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
          "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false,
            "vocab": { "a": 0, "b": 1, "Ġb": 2, "ab": 3, "Ġab": 4, "Ġ": 5 },
            "merges": [ "a b", "Ġ ab", "Ġ b" ]
          }
        }
        """;

    private sealed class TempDir : IDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rwkv-tok-");

        public string File(string name, string text)
        {
            var path = Path.Combine(_dir.FullName, name);
            System.IO.File.WriteAllText(path, text, new UTF8Encoding(false));
            return path;
        }

        public void Dispose() => _dir.Delete(recursive: true);
    }
}
