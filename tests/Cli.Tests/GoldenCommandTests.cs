namespace VisionRwkv.Cli.Tests;

public class GoldenCommandTests
{
    internal static readonly string GoldenDir = Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "goldens", "vrwkv", "exact"));

    [GoldenFact]
    public void Rwkv_golden_passes_on_every_shared_golden_and_exits_zero()
    {
        var files = Directory.GetFiles(GoldenDir, "*.safetensors");
        var (code, output) = CliRunner.Run(["golden", .. files]);
        Assert.True(code == 0, output);
        Assert.Equal(files.Length, output.Split('\n').Count(l => l.Trim().StartsWith("PASS", StringComparison.Ordinal)));
    }

    [Fact]
    public void Rwkv_golden_fails_with_exit_code_1_and_names_a_file_that_is_not_a_golden()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-a-golden-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        try
        {
            var (code, output) = CliRunner.Run(["golden", path]);
            Assert.Equal(1, code);
            Assert.Contains(path, output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rwkv.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Rwkv.sln not found");
    }
}

/// <summary>Skipped, with the reason shown, when ../shared/goldens is not beside the repository.</summary>
internal sealed class GoldenFactAttribute : FactAttribute
{
    public GoldenFactAttribute()
    {
        if (!Directory.Exists(GoldenCommandTests.GoldenDir))
            Skip = $"goldens absent: {GoldenCommandTests.GoldenDir} does not exist";
    }
}
