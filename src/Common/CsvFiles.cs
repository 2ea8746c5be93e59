using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;

namespace VisionRwkv.Common;

/// <summary>
/// Every CSV (and TSV) the toolkit reads or writes goes through CsvHelper (RFC 4180: quoted fields may hold commas,
/// quotes and newlines), in the invariant culture, and is written atomically.
/// </summary>
public static class CsvFiles
{
    /// <summary>Writes a header and rows of already formatted cells to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string?>> rows, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        AtomicFile.WriteText(path, ToText(header, rows, delimiter));
    }

    /// <summary>The CSV text of a header and rows (for printing, or for writers other than files).</summary>
    public static string ToText(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string?>> rows, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        using var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        using (var csv = new CsvWriter(text, Configuration(delimiter)))
        {
            foreach (var h in header)
                csv.WriteField(h);
            csv.NextRecord();
            foreach (var row in rows)
            {
                foreach (var cell in row)
                    csv.WriteField(cell ?? "");
                csv.NextRecord();
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// Reads a CSV with a header row into (header, rows with the line each starts on). Blank lines are skipped. Every
    /// row has the header's width; a row of another width is an error naming the file and the line.
    /// </summary>
    public static (string[] Header, List<(int Line, string[] Cells)> Rows) Read(string path, char delimiter = ',')
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        using var reader = new StreamReader(path);
        using var csv = new CsvReader(reader, Configuration(delimiter));
        if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is null)
            throw new InvalidDataException($"{path}: no header row");
        var header = csv.HeaderRecord.Select(h => h.Trim()).ToArray();
        var rows = new List<(int, string[])>();
        int line = csv.Parser.RawRow + 1;   // the line the next record starts on
        while (csv.Read())
        {
            var record = csv.Parser.Record ?? [];
            int start = line;
            line = csv.Parser.RawRow + 1;
            if (record.All(string.IsNullOrWhiteSpace))
                continue;   // a blank line
            if (record.Length != header.Length)
                throw new InvalidDataException($"{path}:{start}: {record.Length} fields, the header has {header.Length}");
            rows.Add((start, record));
        }
        return (header, rows);
    }

    private static CsvConfiguration Configuration(char delimiter) => new(CultureInfo.InvariantCulture)
    {
        Delimiter = delimiter.ToString(),
        NewLine = "\n",
        BadDataFound = null,
        MissingFieldFound = null,
        DetectColumnCountChanges = false,
        IgnoreBlankLines = true,
    };
}
