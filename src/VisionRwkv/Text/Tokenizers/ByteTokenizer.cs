using System.Text;

namespace VisionRwkv.Text.Tokenizers;

/// <summary>Byte-level: a token per UTF-8 byte (ids 0..255), as the rwkv.cpp tiny models and the byte-level presets use.</summary>
public sealed class ByteTokenizer : ITokenizer
{
    public string Name => "bytes";

    public int VocabSize => 256;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Array.ConvertAll(Encoding.UTF8.GetBytes(text), b => (int)b);
    }

    public string Decode(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var bytes = new byte[tokens.Count];
        for (int i = 0; i < bytes.Length; i++)
        {
            if ((uint)tokens[i] > 255)
                throw new ArgumentException($"token {tokens[i]} at position {i} is not a byte (0..255)", nameof(tokens));
            bytes[i] = (byte)tokens[i];
        }
        return Encoding.UTF8.GetString(bytes);
    }
}
