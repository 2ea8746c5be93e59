using System.Diagnostics;
using System.Text.Json;

namespace VisionRwkv.Datasets.Tests.Reference;

/// <summary>Runs Reference/pillow_images.py with a Python that has Pillow (python3-pil); null when there is none.</summary>
internal static class Pillow
{
    private static readonly Lazy<string?> PythonPath = new(FindPython);

    public static string Script => Path.Combine(AppContext.BaseDirectory, "Reference", "pillow_images.py");

    /// <summary>A python with Pillow, or null. Debian's python3-pil lives in the system python, which a pyenv shim may hide.</summary>
    public static string? Python => PythonPath.Value;

    public static string SkipMessage => "Pillow is not installed (apt-get install python3-pil; scripts/prereqs.sh installs it): the Pillow parity tests are skipped.";

    /// <summary>Runs the script; throws with its output when it fails.</summary>
    public static void Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python ?? throw new InvalidOperationException(SkipMessage)) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"pillow_images.py {string.Join(' ', args.Take(3))} failed: {output}{err.Result}");
    }

    /// <summary>Pillow's decoded pixels of <paramref name="files"/>, by file name.</summary>
    public static Dictionary<string, PillowImage> Export(string outDir, IEnumerable<string> files, (int W, int H)? draft = null)
    {
        var args = new List<string> { "export" };
        if (draft is { } d)
            args.AddRange(["--draft", d.W.ToString(System.Globalization.CultureInfo.InvariantCulture), d.H.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.Add(outDir);
        args.AddRange(files);
        Run([.. args]);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json")));
        var result = new Dictionary<string, PillowImage>();
        foreach (var e in doc.RootElement.EnumerateObject())
        {
            var v = e.Value;
            result[e.Name] = v.GetProperty("ok").GetBoolean()
                ? new PillowImage(true, null, v.GetProperty("width").GetInt32(), v.GetProperty("height").GetInt32(),
                    v.GetProperty("channels").GetInt32(), v.GetProperty("bits").GetInt32(), v.GetProperty("mode").GetString(),
                    v.GetProperty("orientation").GetInt32(), File.ReadAllBytes(Path.Combine(outDir, e.Name + ".raw")))
                : new PillowImage(false, v.GetProperty("error").GetString(), 0, 0, 0, 0, null, 1, []);
        }
        return result;
    }

    private static string? FindPython()
    {
        foreach (var candidate in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                var psi = new ProcessStartInfo(candidate, ["-c", "import PIL"]) { RedirectStandardOutput = true, RedirectStandardError = true };
                using var p = Process.Start(psi)!;
                p.WaitForExit();
                if (p.ExitCode == 0)
                    return candidate;
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }
}

/// <summary>One file as Pillow decoded it (pixels interleaved [H,W,C], 8-bit, or 16-bit little-endian grey).</summary>
internal sealed record PillowImage(bool Ok, string? Error, int Width, int Height, int Channels, int Bits, string? Mode, int Orientation, byte[] Pixels)
{
    /// <summary>Sample (c, y, x) scaled to [0, 1].</summary>
    public float this[int c, int y, int x] => Bits == 16
        ? BitConverter.ToUInt16(Pixels, ((y * Width + x) * Channels + c) * 2) / 65535f
        : Pixels[(y * Width + x) * Channels + c] / 255f;
}
