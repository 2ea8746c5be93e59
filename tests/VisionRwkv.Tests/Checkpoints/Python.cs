using System.Diagnostics;

namespace VisionRwkv.Tests.Checkpoints;

/// <summary>Runs a Python interpreter from the tests, when one is installed (plain python3, or one that has torch).</summary>
internal static class Python
{
    private static readonly Lazy<string?> Plain = new(() => Find("import pickle"));
    // find_spec locates torch without importing it (an import takes seconds, and this runs at test discovery).
    private static readonly Lazy<string?> WithTorch = new(() => Find("import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"));

    // scikit-learn is the reference of the Medical metric tests; Debian's python3-sklearn lands in /usr/bin/python3 only.
    private static readonly Lazy<string?> WithSklearn = new(() => Find("import sklearn.metrics"));

    public static string? PlainExe => Plain.Value;

    public static string? SklearnExe => WithSklearn.Value;

    public static string? TorchExe => WithTorch.Value;

    private static string? Find(string probe)
    {
        foreach (var exe in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                var (code, _) = Run(exe, probe, TimeSpan.FromSeconds(60));
                if (code == 0)
                    return exe;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // not installed under this name
            }
        }
        return null;
    }

    /// <summary>Runs <c>exe -c script args...</c>; returns the exit code and stdout+stderr.</summary>
    public static (int ExitCode, string Output) Run(string exe, string script, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} did not finish in {timeout}");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}

/// <summary>A fact skipped, with the reason shown, when no python3 is installed.</summary>
internal sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (Python.PlainExe is null)
            Skip = "python3 not found";
    }
}

/// <summary>A fact skipped, with the reason shown, when no python3 with torch is installed (apt install python3-torch).</summary>
internal sealed class PythonTorchFactAttribute : FactAttribute
{
    public PythonTorchFactAttribute()
    {
        if (Python.TorchExe is null)
            Skip = "no python3 with torch found (Debian: apt-get install python3-torch)";
    }
}

/// <summary>A fact skipped, with the reason shown, when no python3 with scikit-learn is installed (apt install python3-sklearn).</summary>
internal sealed class PythonSklearnFactAttribute : FactAttribute
{
    public PythonSklearnFactAttribute()
    {
        if (Python.SklearnExe is null)
            Skip = "no python3 with scikit-learn found (Debian: apt-get install python3-sklearn)";
    }
}
