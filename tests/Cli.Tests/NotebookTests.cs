using System.Diagnostics;

namespace VisionRwkv.Cli.Tests;

public class NotebookTests
{
    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(GoldenCommandTests.RepoRoot(), "notebooks"), "*.cs").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task Every_notebook_runs_to_the_end(string notebook)
    {
        string root = GoldenCommandTests.RepoRoot();
        var psi = new ProcessStartInfo("dotnet", ["run", "--file", Path.Combine("notebooks", notebook), "-c", "Release"])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{notebook} did not finish in 8 minutes");
        }
        string output = await stdout + "\n" + await stderr;
        Assert.True(p.ExitCode == 0, $"{notebook} exited {p.ExitCode}:\n{output}");
    }
}
