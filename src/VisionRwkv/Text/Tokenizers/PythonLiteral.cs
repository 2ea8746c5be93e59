using System.Globalization;
using System.Text;

namespace VisionRwkv.Text.Tokenizers;

/// <summary>
/// Reads one Python string or bytes literal as its bytes: <c>'...'</c> / <c>"..."</c> (encoded as UTF-8) or
/// <c>b'...'</c> / <c>b"..."</c>, with Python's escapes (<c>\\ \' \" \a \b \f \n \r \t \v</c>, octal <c>\ooo</c>,
/// <c>\xhh</c>, and in strings <c>\uXXXX</c>, <c>\UXXXXXXXX</c>). This is the subset of Python's <c>eval</c> that
/// the RWKV World vocabulary files need (they are written with <c>repr</c>); we parse instead of evaluating.
/// </summary>
internal static class PythonLiteral
{
    public static byte[] Parse(string literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        var s = literal.Trim();
        bool isBytes = s.Length > 0 && (s[0] == 'b' || s[0] == 'B');
        if (isBytes) s = s[1..];
        if (s.Length < 2 || (s[0] != '\'' && s[0] != '"') || s[^1] != s[0])
            throw new FormatException($"not a quoted Python literal: {literal}");
        char quote = s[0];
        var body = s[1..^1];
        var bytes = new List<byte>(body.Length);
        var text = new StringBuilder();                                          // pending str characters
        void FlushText()
        {
            if (text.Length == 0) return;
            bytes.AddRange(Encoding.UTF8.GetBytes(text.ToString()));
            text.Clear();
        }
        for (int i = 0; i < body.Length; i++)
        {
            char ch = body[i];
            if (ch == quote)
                throw new FormatException($"unescaped {quote} inside {literal}");
            if (ch != '\\')
            {
                if (isBytes && ch > 127)
                    throw new FormatException($"non-ASCII character U+{(int)ch:X4} in a bytes literal: {literal}");
                text.Append(ch);
                continue;
            }
            if (++i >= body.Length)
                throw new FormatException($"literal ends in a lone backslash: {literal}");
            char e = body[i];
            switch (e)
            {
                case '\\': text.Append('\\'); break;
                case '\'': text.Append('\''); break;
                case '"': text.Append('"'); break;
                case 'a': text.Append('\a'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'v': text.Append('\v'); break;
                case '\n': break;                                                // line continuation
                case 'x':
                    {
                        int value = Hex(body, i + 1, 2, literal);
                        i += 2;
                        if (isBytes) { FlushText(); bytes.Add((byte)value); }
                        else text.Append((char)value);                        // U+00hh, UTF-8 encoded later
                        break;
                    }
                case 'u' or 'U' when !isBytes:
                    {
                        int n = e == 'u' ? 4 : 8;
                        int cp = Hex(body, i + 1, n, literal);
                        i += n;
                        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                            throw new FormatException($"\\{e} escape of U+{cp:X} is not a Unicode scalar value: {literal}");
                        text.Append(char.ConvertFromUtf32(cp));
                        break;
                    }
                case >= '0' and <= '7':
                    {
                        int value = 0, digits = 0;
                        while (digits < 3 && i < body.Length && body[i] >= '0' && body[i] <= '7')
                        {
                            value = value * 8 + (body[i] - '0');
                            i++;
                            digits++;
                        }
                        i--;
                        if (isBytes) { FlushText(); bytes.Add((byte)(value & 0xFF)); }
                        else text.Append((char)value);
                        break;
                    }
                default:
                    // Python keeps an unknown escape as it is (backslash and character).
                    text.Append('\\').Append(e);
                    break;
            }
            if (isBytes && e != 'x' && (e < '0' || e > '7')) FlushText();
        }
        FlushText();
        return [.. bytes];
    }

    private static int Hex(string s, int start, int count, string literal)
    {
        if (start + count > s.Length || !int.TryParse(s.AsSpan(start, count), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw new FormatException($"bad \\x/\\u escape at character {start} of {literal}");
        return v;
    }
}
