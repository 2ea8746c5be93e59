using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;

namespace VisionRwkv.Labeling;

/// <summary>Row statuses: every file found gets exactly one.</summary>
public static class LabelStatus
{
    public const string Labeled = "labeled";
    public const string Skipped = "skipped";
    public const string Unsupported = "unsupported";
}

/// <summary>Why a file was skipped (the <c>reason</c> column of a skipped row).</summary>
public static class SkipReason
{
    public const string Corrupt = "corrupt";
    public const string Truncated = "truncated";
    public const string TooLarge = "too_large";
    public const string Empty = "empty";
    public const string Unreadable = "unreadable";
}

/// <summary>One label of a file with its probability.</summary>
public readonly record struct LabelScore([property: JsonPropertyName("label")] string Label, [property: JsonPropertyName("score")] float Score);

/// <summary>One file's row of the journal (and of every export).</summary>
public sealed record JournalRow
{
    public required string Path { get; init; }
    public long Size { get; init; }
    /// <summary>Last write time when the row was made, Unix milliseconds.</summary>
    public long MtimeMs { get; init; }
    /// <summary>SHA-256 of the content (hex) when the job runs with content hashing; else null.</summary>
    public string? ContentHash { get; init; }
    public required string Status { get; init; }
    /// <summary>For skipped rows: corrupt, truncated, too_large, empty, unreadable.</summary>
    public string? Reason { get; init; }
    /// <summary>Detected format (JPEG, TIFF, HEIC, RAW (NEF), ...).</summary>
    public string? Format { get; init; }
    /// <summary>Size stored in the file, before orientation.</summary>
    public int? Width { get; init; }
    public int? Height { get; init; }
    /// <summary>EXIF orientation found (1-8), applied before labeling.</summary>
    public int? Orientation { get; init; }
    public string? Error { get; init; }
    /// <summary>The decoder's warnings for a file that decoded (premature end, extraneous bytes, wrong extension).</summary>
    public string? Warning { get; init; }
    public string? ModelId { get; init; }
    /// <summary>Top-k labels, best first (empty unless labeled).</summary>
    public IReadOnlyList<LabelScore> Labels { get; init; } = [];
    /// <summary>When the row was written, ISO 8601 UTC.</summary>
    public required string Time { get; init; }

    /// <summary>True when the row still describes the file as it is (same size and modification time).</summary>
    public bool Matches(ScannedFile file) => file is not null && Size == file.Size && MtimeMs == file.MtimeMs;
}

/// <summary>
/// The labeling journal: one SQLite database (WAL mode) per output folder and shard, one row per file keyed by path.
/// Rows are written in one transaction per finished batch, so a process killed at any moment leaves every committed
/// batch and nothing half-written; the next run reads which files are done and labels only the rest.
/// </summary>
public sealed class Journal : IDisposable
{
    private readonly SqliteConnection connection;

    private Journal(string path, SqliteConnection connection)
    {
        Path = path;
        this.connection = connection;
    }

    public string Path { get; }

    /// <summary>Opens (creating when absent) the journal at <paramref name="path"/>.</summary>
    public static Journal Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        // Pooling off: the file is released at Dispose, so a test or a merge can move or delete it right after.
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString());
        c.Open();
        var journal = new Journal(full, c);
        // WAL + synchronous=NORMAL: a commit survives the process being killed (kill -9); only a power loss can lose the
        // last commits, never corrupt the file. busy_timeout lets `label merge` read while a job still writes.
        journal.Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;");
        journal.Execute("""
            CREATE TABLE IF NOT EXISTS files (
              path TEXT PRIMARY KEY NOT NULL,
              size INTEGER NOT NULL,
              mtime_ms INTEGER NOT NULL,
              content_hash TEXT,
              status TEXT NOT NULL,
              reason TEXT,
              format TEXT,
              width INTEGER,
              height INTEGER,
              orientation INTEGER,
              error TEXT,
              warning TEXT,
              model_id TEXT,
              labels TEXT NOT NULL DEFAULT '[]',
              time TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);
            """);
        return journal;
    }

    /// <summary>Every row, ordered by path.</summary>
    public List<JournalRow> ReadAll()
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT path,size,mtime_ms,content_hash,status,reason,format,width,height,orientation,error,warning,model_id,labels,time FROM files ORDER BY path";
        using var r = cmd.ExecuteReader();
        var rows = new List<JournalRow>();
        while (r.Read())
        {
            rows.Add(new JournalRow
            {
                Path = r.GetString(0),
                Size = r.GetInt64(1),
                MtimeMs = r.GetInt64(2),
                ContentHash = r.IsDBNull(3) ? null : r.GetString(3),
                Status = r.GetString(4),
                Reason = r.IsDBNull(5) ? null : r.GetString(5),
                Format = r.IsDBNull(6) ? null : r.GetString(6),
                Width = r.IsDBNull(7) ? null : r.GetInt32(7),
                Height = r.IsDBNull(8) ? null : r.GetInt32(8),
                Orientation = r.IsDBNull(9) ? null : r.GetInt32(9),
                Error = r.IsDBNull(10) ? null : r.GetString(10),
                Warning = r.IsDBNull(11) ? null : r.GetString(11),
                ModelId = r.IsDBNull(12) ? null : r.GetString(12),
                Labels = JsonSerializer.Deserialize(r.GetString(13), LabelingJson.Default.LabelScoreArray) ?? [],
                Time = r.GetString(14),
            });
        }
        return rows;
    }

    public int Count()
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM files";
        return Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Writes (inserts or replaces by path) <paramref name="rows"/> in one transaction.</summary>
    public void Write(IReadOnlyCollection<JournalRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
            return;
        using var tx = connection.BeginTransaction();
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO files (path,size,mtime_ms,content_hash,status,reason,format,width,height,orientation,error,warning,model_id,labels,time)
            VALUES ($path,$size,$mtime,$hash,$status,$reason,$format,$width,$height,$orientation,$error,$warning,$model,$labels,$time)
            ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ms=excluded.mtime_ms, content_hash=excluded.content_hash,
              status=excluded.status, reason=excluded.reason, format=excluded.format, width=excluded.width, height=excluded.height,
              orientation=excluded.orientation, error=excluded.error, warning=excluded.warning, model_id=excluded.model_id,
              labels=excluded.labels, time=excluded.time
            """;
        var p = new Dictionary<string, SqliteParameter>();
        foreach (var name in new[] { "$path", "$size", "$mtime", "$hash", "$status", "$reason", "$format", "$width", "$height", "$orientation", "$error", "$warning", "$model", "$labels", "$time" })
            p[name] = cmd.Parameters.Add(name, SqliteType.Text);
        foreach (var row in rows)
        {
            p["$path"].Value = row.Path;
            p["$size"].Value = row.Size;
            p["$mtime"].Value = row.MtimeMs;
            p["$hash"].Value = (object?)row.ContentHash ?? DBNull.Value;
            p["$status"].Value = row.Status;
            p["$reason"].Value = (object?)row.Reason ?? DBNull.Value;
            p["$format"].Value = (object?)row.Format ?? DBNull.Value;
            p["$width"].Value = (object?)row.Width ?? DBNull.Value;
            p["$height"].Value = (object?)row.Height ?? DBNull.Value;
            p["$orientation"].Value = (object?)row.Orientation ?? DBNull.Value;
            p["$error"].Value = (object?)row.Error ?? DBNull.Value;
            p["$warning"].Value = (object?)row.Warning ?? DBNull.Value;
            p["$model"].Value = (object?)row.ModelId ?? DBNull.Value;
            p["$labels"].Value = JsonSerializer.Serialize(row.Labels as LabelScore[] ?? [.. row.Labels], LabelingJson.Default.LabelScoreArray);
            p["$time"].Value = row.Time;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }

    public string? GetMeta(string key)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key=$k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar() as string;
    }

    public void SetMeta(string key, string value)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "INSERT INTO meta(key,value) VALUES($k,$v) ON CONFLICT(key) DO UPDATE SET value=excluded.value";
        cmd.Parameters.AddWithValue("$k", key);
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    /// <summary>The model ids of labeled rows.</summary>
    public IReadOnlyList<string> ModelIds()
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT DISTINCT model_id FROM files WHERE model_id IS NOT NULL ORDER BY model_id";
        using var r = cmd.ExecuteReader();
        var ids = new List<string>();
        while (r.Read())
            ids.Add(r.GetString(0));
        return ids;
    }

    /// <summary>Moves everything from the WAL into the database file (so a copy of the .sqlite file alone is complete).</summary>
    public void Checkpoint() => Execute("PRAGMA wal_checkpoint(TRUNCATE);");

    public void Dispose()
    {
        connection.Dispose();
    }

    private void Execute(string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>ISO 8601 UTC with milliseconds, the journal's time format.</summary>
    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
