namespace VisionRwkv.Tests.Checkpoints;

/// <summary>Paths the checkpoint tests use: a fresh temp directory per test, the repo root and the shared goldens.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The goldens live outside the repository, at <c>../shared/goldens</c> from its root.</summary>
    public static string Goldens { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "goldens"));

    public static string VrwkvExactDir => Path.Combine(Goldens, "vrwkv", "exact");

    public static string Fixtures { get; } = Path.Combine(RepoRoot, "tests", "VisionRwkv.Tests", "Checkpoints", "Fixtures");

    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "rwkv-ckpt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rwkv.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find Rwkv.sln above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that is skipped, with the reason shown, when the shared Vision-RWKV goldens are not present.</summary>
internal sealed class VrwkvGoldenFactAttribute : FactAttribute
{
    public VrwkvGoldenFactAttribute()
    {
        if (!Directory.Exists(TestPaths.VrwkvExactDir) || Directory.GetFiles(TestPaths.VrwkvExactDir, "*.safetensors").Length == 0)
            Skip = $"goldens absent: no *.safetensors in {TestPaths.VrwkvExactDir}";
    }
}
