namespace VisionRwkv.Labeling;

/// <summary>What a merge did.</summary>
public sealed record MergeReport(int Sources, int RowsRead, int RowsWritten, IReadOnlyList<string> ModelIds, string Target);

/// <summary>
/// Combines journals (the shards of one job, or jobs over different folders) into one. A path present in several keeps
/// the row written last (its time column), so merging the same journals again gives the same result. Journals labeled by
/// different models are refused unless explicitly allowed: their scores are not comparable.
/// </summary>
public static class JournalMerge
{
    /// <summary>The journals in <paramref name="inputs"/>: .sqlite files, or every *.sqlite file in a folder.</summary>
    public static List<string> Find(IEnumerable<string> inputs, string? exclude = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var skip = exclude is null ? null : Path.GetFullPath(exclude);
        var found = new List<string>();
        foreach (var input in inputs)
        {
            if (File.Exists(input))
                found.Add(Path.GetFullPath(input));
            else if (Directory.Exists(input))
                found.AddRange(Directory.GetFiles(input, "*.sqlite").Select(Path.GetFullPath).Order(StringComparer.Ordinal));
            else
                throw new FileNotFoundException($"{input}: no such journal or folder");
        }
        return [.. found.Distinct(StringComparer.Ordinal).Where(f => f != skip)];
    }

    public static MergeReport Merge(IReadOnlyList<string> journals, string target, bool allowMixedModels = false)
    {
        ArgumentNullException.ThrowIfNull(journals);
        if (journals.Count == 0)
            throw new ArgumentException("no journals to merge (looked for *.sqlite files)");
        var best = new Dictionary<string, JournalRow>(StringComparer.Ordinal);
        var read = 0;
        foreach (var path in journals)
        {
            using var j = Journal.Open(path);
            foreach (var row in j.ReadAll())
            {
                read++;
                if (!best.TryGetValue(row.Path, out var other) || string.CompareOrdinal(row.Time, other.Time) > 0)
                    best[row.Path] = row;
            }
        }
        using var output = Journal.Open(target);
        var ids = best.Values.Select(r => r.ModelId).Concat(output.ModelIds()).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (ids.Count > 1 && !allowMixedModels)
            throw new InvalidOperationException($"the journals were labeled by different models ({string.Join(", ", ids)}); pass --allow-mixed-models to merge them anyway");
        // The target's own rows take part too: a row there that is newer than the sources' stays.
        var current = output.ReadAll().ToDictionary(r => r.Path, StringComparer.Ordinal);
        var changed = best.Values.Where(r => !current.TryGetValue(r.Path, out var c) || string.CompareOrdinal(r.Time, c.Time) > 0).OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
        output.Write(changed);
        output.Checkpoint();
        return new MergeReport(journals.Count, read, changed.Count, ids, output.Path);
    }
}
