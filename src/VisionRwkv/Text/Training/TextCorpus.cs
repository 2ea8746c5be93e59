using System.Text;

namespace VisionRwkv.Text.Training;

/// <summary>A text split three ways: training, validation (picks the best epoch) and held-out test text.</summary>
/// <param name="Train">Training text.</param>
/// <param name="Validation">Validation text.</param>
/// <param name="Test">Held-out test text.</param>
/// <param name="Description">One line for the log: where the text came from and how it was split.</param>
public sealed record TextCorpus(string Train, string Validation, string Test, string Description)
{
    /// <summary>
    /// The Debian fortune files: chosen for the main text job because they are real, varied English prose (quotations,
    /// jokes, poems, definitions), public, installable with one apt command (<c>fortunes</c>, <c>fortunes-min</c>) and
    /// a few MB, enough to learn from in minutes without being memorised at once.
    /// </summary>
    public const string FortunesFolder = "/usr/share/games/fortunes";

    /// <summary>
    /// Opens a data spec: <c>fortunes</c> (the folder <see cref="FortunesFolder"/>), <c>fortunes:FOLDER</c>, or a UTF-8
    /// text file (split by position: the first 85% trains, the next 5% validates, the last 10% is the test text).
    /// </summary>
    public static TextCorpus Open(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        if (spec == "fortunes") return Fortunes(FortunesFolder);
        if (spec.StartsWith("fortunes:", StringComparison.Ordinal)) return Fortunes(spec["fortunes:".Length..]);
        return File(spec);
    }

    /// <summary>A plain text file split by position (at character boundaries).</summary>
    public static TextCorpus File(string path)
    {
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"{path}: no such text file (or use 'fortunes')", path);
        string text = ReadUtf8(path);
        int a = (int)(text.Length * 0.85), b = (int)(text.Length * 0.90);
        return new TextCorpus(text[..a], text[a..b], text[b..], $"{path}: {text.Length:N0} characters, split 85/5/10 by position");
    }

    /// <summary>
    /// The English fortune files of a fortune folder, concatenated in name order, one fortune after another each ending
    /// in a "%" line as in the files. The index files (<c>.dat</c>), the <c>.u8</c> links (the same files again) and the
    /// offensive <c>off/</c> folder (any sub-folder) are skipped. Fortune i (counted over all files) is held out for
    /// testing when i % 10 == 9 and for validation when i % 20 == 4; the rest is training text.
    /// </summary>
    public static TextCorpus Fortunes(string folder)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"{folder}: no fortune folder (install the Debian packages 'fortunes' and 'fortunes-min')");
        var files = Directory.GetFiles(folder)
            .Where(f => !f.EndsWith(".dat", StringComparison.Ordinal) && !f.EndsWith(".u8", StringComparison.Ordinal))
            .Where(f => (System.IO.File.GetAttributes(f) & FileAttributes.ReparsePoint) == 0)
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new InvalidDataException($"{folder}: holds no fortune files");
        var train = new StringBuilder();
        var val = new StringBuilder();
        var test = new StringBuilder();
        int index = 0;
        foreach (var file in files)
        {
            foreach (var fortune in Split(ReadUtf8(file)))
            {
                var target = index % 10 == 9 ? test : index % 20 == 4 ? val : train;
                target.Append(fortune).Append("%\n");
                index++;
            }
        }
        return new TextCorpus(train.ToString(), val.ToString(), test.ToString(),
            $"{folder}: {files.Count} files, {index:N0} fortunes; held out: every 10th for test, every 20th (offset 4) for validation");
    }

    /// <summary>The fortunes of one file: the text between lines holding only "%".</summary>
    private static IEnumerable<string> Split(string text)
    {
        var current = new StringBuilder();
        foreach (var line in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (line == "%")
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
            }
            else
                current.Append(line).Append('\n');
        }
        var last = current.ToString().TrimEnd('\n');
        if (last.Length > 0) yield return last + "\n";
    }

    private static string ReadUtf8(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{path}: not valid UTF-8 at byte offset {e.Index}", e);
        }
    }
}
