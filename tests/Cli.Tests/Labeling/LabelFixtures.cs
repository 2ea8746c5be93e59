using System.Buffers.Binary;
using System.Diagnostics;
using SkiaSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Labeling;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Tests.Labeling;

/// <summary>Test material for the labeling tests, made at test time: a tiny model checkpoint and real photo files.</summary>
internal static class LabelFixtures
{
    public static readonly string[] ClassNames = ["apple", "bicycle", "cat", "dog", "eagle", "fish", "guitar", "house", "island", "jeep"];

    /// <summary>A randomly initialised vrwkv_mini_32 (seeded) saved as safetensors, and its class-names file.</summary>
    public static (string Checkpoint, string Classes) TinyModel(string dir)
    {
        Directory.CreateDirectory(dir);
        var checkpoint = Path.Combine(dir, "mini32.safetensors");
        var classes = Path.Combine(dir, "classes.txt");
        if (!File.Exists(checkpoint))
        {
            manual_seed(7);
            using var model = ModelRegistry.Create("vrwkv_mini_32", ClassNames.Length);
            CheckpointIO.Save(checkpoint, model.state_dict());
            File.WriteAllLines(classes, ClassNames);
        }
        return (checkpoint, classes);
    }

    /// <summary>Arguments that point `rwkv label` at the tiny model.</summary>
    public static string[] ModelArgs(string checkpoint, string classes) => [checkpoint, "--classes", classes, "--arch", "vrwkv_mini_32"];

    /// <summary>A JPEG or PNG with a seeded pattern.</summary>
    public static byte[] Photo(int width, int height, int seed, SKEncodedImageFormat format = SKEncodedImageFormat.Jpeg, int quality = 90)
    {
        var rng = new Random(seed);
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
                bmp.SetPixel(x, y, new SKColor((byte)(x * 7 + seed * 13), (byte)(y * 5 + rng.Next(40)), (byte)((x + y) * 3 + seed)));
        }
        using var data = bmp.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A PNG holding only a header that declares <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static byte[] PngBomb(int width, int height)
    {
        var png = Photo(8, 8, 1, SKEncodedImageFormat.Png);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        // Fix the IHDR CRC so that the header itself is valid.
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        return png;
    }

    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            c ^= b;
            for (var k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>The first bytes of formats we do not decode (their signatures are what the sniffer sees).</summary>
    public static byte[] Heic() => [0, 0, 0, 0x18, .. "ftypheic"u8, 0, 0, 0, 0, .. "mif1heic"u8, .. new byte[64]];

    public static byte[] Mp4() => [0, 0, 0, 0x18, .. "ftypisom"u8, 0, 0, 2, 0, .. "isomiso2"u8, .. new byte[64]];

    public static byte[] Psd() => [.. "8BPS"u8, 0, 1, .. new byte[64]];

    /// <summary>A Nikon raw is TIFF inside: the extension must win over the bytes.</summary>
    public static byte[] Nef() => [.. "MM\0*"u8, 0, 0, 0, 8, .. new byte[64]];

    /// <summary>Rows of a journal keyed by path, for comparisons.</summary>
    public static Dictionary<string, JournalRow> Rows(string journalPath)
    {
        using var j = Journal.Open(journalPath);
        return j.ReadAll().ToDictionary(r => r.Path, StringComparer.Ordinal);
    }

    /// <summary>Two journals hold the same rows (times ignored; scores within 1e-4, which batch composition may move).</summary>
    public static void AssertSameRows(IReadOnlyDictionary<string, JournalRow> expected, IReadOnlyDictionary<string, JournalRow> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, e) in expected)
        {
            var a = actual[path];
            Assert.Equal(e with { Time = "", Labels = [] }, a with { Time = "", Labels = [] });
            Assert.Equal(e.Labels.Select(l => l.Label), a.Labels.Select(l => l.Label));
            foreach (var (x, y) in e.Labels.Zip(a.Labels))
                Assert.True(Math.Abs(x.Score - y.Score) < 1e-4, $"{path}: {x.Label} scored {x.Score} and {y.Score}");
        }
    }

    /// <summary>The built CLI (rwkv.dll next to the test assembly) as a child process.</summary>
    public static Process Start(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rwkv.dll"));
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        psi.Environment["CI"] = "1"; // plain progress lines
        return Process.Start(psi)!;
    }

    /// <summary>Runs the CLI to the end; returns the exit code and everything it printed.</summary>
    public static (int Code, string Output) RunProcess(IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        using var p = Start(args, env);
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(240_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("rwkv did not finish in 4 minutes:\n" + output);
        }
        return (p.ExitCode, output + err.Result);
    }
}
