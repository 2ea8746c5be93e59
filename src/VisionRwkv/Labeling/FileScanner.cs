using Microsoft.Extensions.FileSystemGlobbing;

namespace VisionRwkv.Labeling;

/// <summary>One file found by the scan.</summary>
/// <param name="Path">Absolute path: the journal's key.</param>
/// <param name="RelativePath">Path below its input root with '/' separators: what globs and shard hashing see.</param>
/// <param name="Size">Bytes.</param>
/// <param name="MtimeMs">Last write time, Unix milliseconds (UTC).</param>
public sealed record ScannedFile(string Path, string RelativePath, long Size, long MtimeMs);

/// <summary>How inputs are scanned.</summary>
public sealed record ScanOptions
{
    /// <summary>
    /// Globs a file must match (none: every file). Matched against the path below the input root, case-insensitively;
    /// a pattern without '/' matches at any depth (<c>*.jpg</c> is <c>**/*.jpg</c>), as in .gitignore.
    /// </summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Globs that remove files (and whole folders with <c>dir/**</c>), same rules as <see cref="Include"/>.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>
    /// Globs excluded unless the user names them in <see cref="Include"/>: XMP sidecars (written next to the photos by
    /// this very job, so a second run must not find new files). Counted in the scan report, never silently dropped.
    /// </summary>
    public IReadOnlyList<string> DefaultExclude { get; init; } = ["*.xmp"];

    /// <summary>Include hidden files and folders (names starting with '.', or the Hidden attribute).</summary>
    public bool Hidden { get; init; }

    /// <summary>Follow symbolic links to files and folders (each real folder is visited once; loops are cut).</summary>
    public bool FollowSymlinks { get; init; }

    /// <summary>Folders never entered (the job's output folder when it lies inside an input).</summary>
    public IReadOnlyList<string> SkipDirectories { get; init; } = [];
}

/// <summary>The files of a scan, in a stable order, and what was left out and why.</summary>
public sealed record ScanResult(IReadOnlyList<ScannedFile> Files, IReadOnlyDictionary<string, int> Excluded);

/// <summary>
/// Recursive scan of files and folders: globs through Microsoft.Extensions.FileSystemGlobbing, hidden files and symlinks
/// by option, output in ordinal order of the absolute path (the same on every machine and every run).
/// </summary>
public static class FileScanner
{
    public static ScanResult Scan(IEnumerable<string> inputs, ScanOptions options)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        var excluded = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(string why) => excluded[why] = excluded.GetValueOrDefault(why) + 1;
        var skipDirs = options.SkipDirectories.Select(d => System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(d))).ToHashSet(StringComparer.Ordinal);
        var include = BuildMatcher(options.Include.Count == 0 ? ["**/*"] : options.Include);
        var exclude = options.Exclude.Count == 0 ? null : BuildMatcher(options.Exclude);
        var defaultExclude = options.DefaultExclude.Count == 0 ? null : BuildMatcher(options.DefaultExclude);
        var found = new Dictionary<string, ScannedFile>(StringComparer.Ordinal);
        var visited = new HashSet<string>(StringComparer.Ordinal);

        foreach (var input in inputs)
        {
            var full = System.IO.Path.GetFullPath(input);
            if (File.Exists(full))
            {
                // A file named on the command line is taken as it is: globs and hidden rules are for folder scans.
                var info = new FileInfo(full);
                found[full] = new ScannedFile(full, info.Name, info.Length, MtimeMs(info));
                continue;
            }
            if (!Directory.Exists(full))
                throw new FileNotFoundException($"{input}: no such file or folder");
            visited.Clear();
            Walk(new DirectoryInfo(full), full);
        }
        return new ScanResult([.. found.Values.OrderBy(f => f.Path, StringComparer.Ordinal)], excluded);

        void Walk(DirectoryInfo dir, string root)
        {
            var real = dir.LinkTarget is null ? dir.FullName : (dir.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir.FullName);
            if (!visited.Add(real))
            {
                Count("symlink loop");
                return;
            }
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = dir.EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = false, AttributesToSkip = 0 }).ToList();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                Count("unreadable folder");
                return;
            }
            foreach (var entry in entries)
            {
                var rel = System.IO.Path.GetRelativePath(root, entry.FullName).Replace('\\', '/');
                if (!options.Hidden && IsHidden(entry))
                {
                    Count("hidden");
                    continue;
                }
                if (entry.LinkTarget is not null && !options.FollowSymlinks)
                {
                    Count("symlink");
                    continue;
                }
                if (entry is DirectoryInfo sub || (entry.LinkTarget is not null && Directory.Exists(entry.FullName)))
                {
                    var d = entry as DirectoryInfo ?? new DirectoryInfo(entry.FullName);
                    if (skipDirs.Contains(System.IO.Path.TrimEndingDirectorySeparator(d.FullName)))
                        continue;
                    Walk(d, root);
                    continue;
                }
                if (!include.Match(rel).HasMatches)
                {
                    Count("not included");
                    continue;
                }
                if (exclude?.Match(rel).HasMatches == true)
                {
                    Count("excluded");
                    continue;
                }
                if (defaultExclude?.Match(rel).HasMatches == true && options.Include.Count == 0)
                {
                    Count("xmp sidecar");
                    continue;
                }
                try
                {
                    var info = entry.LinkTarget is null ? (FileInfo)entry : new FileInfo(entry.ResolveLinkTarget(true)?.FullName ?? entry.FullName);
                    found[entry.FullName] = new ScannedFile(entry.FullName, rel, info.Exists ? info.Length : 0, info.Exists ? MtimeMs(info) : 0);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Listed but not statable: it still gets a row (the decode will say unreadable).
                    found[entry.FullName] = new ScannedFile(entry.FullName, rel, 0, 0);
                }
            }
        }
    }

    public static long MtimeMs(FileInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeMilliseconds();
    }

    /// <summary>A case-insensitive matcher; patterns without '/' match at any depth.</summary>
    internal static Matcher BuildMatcher(IEnumerable<string> patterns)
    {
        var m = new Matcher(StringComparison.OrdinalIgnoreCase);
        foreach (var p in patterns)
        {
            var pattern = p.Replace('\\', '/').TrimStart('/');
            m.AddInclude(pattern.Contains('/', StringComparison.Ordinal) ? pattern : "**/" + pattern);
        }
        return m;
    }

    private static bool IsHidden(FileSystemInfo e) =>
        e.Name.StartsWith('.') || (OperatingSystem.IsWindows() && e.Attributes.HasFlag(FileAttributes.Hidden));
}
