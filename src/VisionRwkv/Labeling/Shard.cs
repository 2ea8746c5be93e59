using System.Globalization;
using System.Text;

namespace VisionRwkv.Labeling;

/// <summary>
/// One part of a stable hash partition of the files: a file belongs to shard <c>FNV-1a-64(relative path) mod Count</c>,
/// so every machine computes the same split from the same folder without talking to the others, and adding files moves
/// no other file to another shard.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard All => new(0, 1);

    public bool IsAll => Count == 1;

    /// <summary>The journal of this shard: <c>labels.sqlite</c>, or <c>labels.shard-002-of-008.sqlite</c>.</summary>
    public string JournalName => IsAll ? "labels.sqlite" : string.Create(CultureInfo.InvariantCulture, $"labels.shard-{Index:D3}-of-{Count:D3}.sqlite");

    public bool Contains(string relativePath) => IsAll || (int)(Hash(relativePath) % (ulong)Count) == Index;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>Parses <c>i/N</c> (0 ≤ i &lt; N).</summary>
    public static Shard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new FormatException($"--shard '{text}': expected i/N, for example 0/4");
        return Create(i, n, $"--shard {text}");
    }

    /// <summary>
    /// The shard a scheduler assigns through the environment, or null when none does:
    /// a Kubernetes Indexed Job sets <c>JOB_COMPLETION_INDEX</c> (the count comes from <paramref name="shards"/>, i.e.
    /// <c>--shards</c>, or <c>RWKV_SHARDS</c>, normally the Job's <c>completions</c>); a Slurm job array sets
    /// <c>SLURM_ARRAY_TASK_ID</c> and <c>SLURM_ARRAY_TASK_COUNT</c> (ids are taken relative to <c>SLURM_ARRAY_TASK_MIN</c>).
    /// </summary>
    public static Shard? FromEnvironment(Func<string, string?> env, int? shards)
    {
        ArgumentNullException.ThrowIfNull(env);
        int? Int(string name)
        {
            var v = env(name);
            if (string.IsNullOrWhiteSpace(v))
                return null;
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x
                : throw new FormatException($"environment variable {name}='{v}' is not an integer");
        }
        if (Int("JOB_COMPLETION_INDEX") is int k8s)
        {
            var n = shards ?? Int("RWKV_SHARDS")
                ?? throw new ArgumentException("JOB_COMPLETION_INDEX is set (Kubernetes Indexed Job) but the number of shards is not: pass --shards N or set RWKV_SHARDS");
            return Create(k8s, n, "JOB_COMPLETION_INDEX");
        }
        if (Int("SLURM_ARRAY_TASK_ID") is int slurm)
        {
            var min = Int("SLURM_ARRAY_TASK_MIN") ?? 0;
            var n = shards ?? Int("SLURM_ARRAY_TASK_COUNT")
                ?? throw new ArgumentException("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shards N");
            return Create(slurm - min, n, "SLURM_ARRAY_TASK_ID");
        }
        return null;
    }

    /// <summary>64-bit FNV-1a of the UTF-8 bytes: fixed forever (string.GetHashCode is randomised per process).</summary>
    public static ulong Hash(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(relativePath.Replace('\\', '/')))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }

    private static Shard Create(int i, int n, string source)
    {
        if (n < 1 || i < 0 || i >= n)
            throw new ArgumentOutOfRangeException(nameof(i), $"{source}: shard {i} of {n} is not valid (need 0 <= i < N)");
        return new Shard(i, n);
    }
}
