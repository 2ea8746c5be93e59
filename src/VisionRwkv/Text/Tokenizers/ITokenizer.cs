namespace VisionRwkv.Text.Tokenizers;

/// <summary>Text to token ids and back.</summary>
public interface ITokenizer
{
    /// <summary>What it is and where its vocabulary came from, for messages.</summary>
    string Name { get; }

    /// <summary>One more than the largest token id.</summary>
    int VocabSize { get; }

    int[] Encode(string text);

    /// <summary>
    /// The text of a token sequence. A sequence that ends inside a multi-byte UTF-8 character decodes with U+FFFD in
    /// its place (streaming output waits for the next token in that case).
    /// </summary>
    string Decode(IReadOnlyList<int> tokens);
}
