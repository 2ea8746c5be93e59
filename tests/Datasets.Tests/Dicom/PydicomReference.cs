using System.Diagnostics;
using System.Text.Json;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>The tests that share one pydicom export.</summary>
[CollectionDefinition(Name)]
public sealed class PydicomCollection : ICollectionFixture<PydicomReference>
{
    public const string Name = "pydicom reference";
}

/// <summary>
/// Runs pydicom_export.py once for the test collection: pydicom's reading of its own test files and of the synthetic files
/// the script makes, written to a temporary folder. Skips (with the reason) when no python3 with pydicom and numpy is
/// installed. The script locates pydicom's test files through pydicom itself.
/// </summary>
public sealed class PydicomReference : IDisposable
{
    public PydicomReference()
    {
        var python = FindPython();
        if (python is null)
        {
            SkipReason = "pydicom not found (Debian: apt-get install python3-pydicom python3-numpy python3-gdcm, or ./scripts/prereqs.sh)";
            return;
        }
        Folder = Path.Combine(Path.GetTempPath(), "rwkv-pydicom-" + Guid.NewGuid().ToString("N"));
        var script = Path.Combine(AppContext.BaseDirectory, "Dicom", "pydicom_export.py");
        var (code, output) = Run(python, [script, Folder], TimeSpan.FromMinutes(10));
        if (code != 0)
            throw new InvalidOperationException($"pydicom_export.py failed ({code}):\n{output}");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "index.json")));
        PydicomVersion = doc.RootElement.GetProperty("pydicom").GetString()!;
        Entries = doc.RootElement.GetProperty("files").EnumerateArray().Select(e => new Entry(e.Clone())).ToList();
    }

    public string? SkipReason { get; }

    public string Folder { get; } = string.Empty;

    public string PydicomVersion { get; } = string.Empty;

    public IReadOnlyList<Entry> Entries { get; } = [];

    internal Npy Array(Entry e, string kind) => Npy.Read(Path.Combine(Folder, $"{e.Id}.{kind}.npy"));

    public bool Has(Entry e, string kind) => File.Exists(Path.Combine(Folder, $"{e.Id}.{kind}.npy"));

    public void Dispose()
    {
        if (Folder.Length == 0)
            return;
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string? FindPython()
    {
        foreach (var exe in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                if (Run(exe, ["-c", "import pydicom, numpy"], TimeSpan.FromSeconds(60)).Code == 0)
                    return exe;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // not installed under this name
            }
        }
        return null;
    }

    private static (int Code, string Output) Run(string exe, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
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

    /// <summary>One file's entry in index.json.</summary>
    public sealed class Entry(JsonElement e)
    {
        public string Id { get; } = e.GetProperty("id").GetString()!;

        public string Path { get; } = e.GetProperty("path").GetString()!;

        public string Source { get; } = e.GetProperty("source").GetString()!;

        public string Category { get; } = e.TryGetProperty("category", out var c) ? c.GetString()! : "export_failed";

        public string? Error { get; } = e.TryGetProperty("error", out var er) ? er.GetString() : null;

        public string? Dtype { get; } = e.TryGetProperty("dtype", out var d) ? d.GetString() : null;

        public int[] Shape { get; } = e.TryGetProperty("shape", out var s) ? s.EnumerateArray().Select(x => x.GetInt32()).ToArray() : [];

        public bool HasModality { get; } = e.TryGetProperty("modality", out var m) && m.GetBoolean();

        public bool MaskChanged { get; } = e.TryGetProperty("mask_changed", out var mc) && mc.GetBoolean();

        /// <summary>Per window index: null when pydicom produced the array, else its error.</summary>
        public IReadOnlyList<string?> Voi { get; } = e.TryGetProperty("voi", out var v) ? v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? null : x.GetString()).ToList() : [];

        public bool HasColor { get; } = e.TryGetProperty("color", out var col) && col.GetBoolean();

        public string? TransferSyntax { get; } = e.TryGetProperty("transfer_syntax", out var ts) ? ts.GetString() : null;

        public JsonElement? Header { get; } = e.TryGetProperty("header", out var h) ? h : null;

        public string Name => System.IO.Path.GetFileName(Path);

        public override string ToString() => $"{Name} ({Source})";
    }
}
