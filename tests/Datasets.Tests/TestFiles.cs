using System.Diagnostics;
using System.IO.Compression;
using System.Buffers.Binary;
using SkiaSharp;

namespace VisionRwkv.Datasets.Tests;

/// <summary>A temporary folder removed when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rwkv-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        return p;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Real image files for tests: encoded by SkiaSharp, or written byte by byte where Skia cannot encode (16-bit PNG, GIF).</summary>
internal static class TestFiles
{
    /// <summary>An RGBA bitmap from a function of (x, y).</summary>
    public static SKBitmap Bitmap(int width, int height, Func<int, int, SKColor> color, SKAlphaType alpha = SKAlphaType.Opaque)
    {
        var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alpha));
        var span = bmp.GetPixelSpan();
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var c = color(x, y);
                var o = y * bmp.RowBytes + 4 * x;
                span[o] = c.Red;
                span[o + 1] = c.Green;
                span[o + 2] = c.Blue;
                span[o + 3] = c.Alpha;
            }
        }
        return bmp;
    }

    public static string Encode(SKBitmap bmp, string path, SKEncodedImageFormat format, int quality = 95)
    {
        using var data = bmp.Encode(format, quality) ?? throw new InvalidOperationException($"Skia cannot encode {format}.");
        System.IO.File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    /// <summary>A grey (1-channel) JPEG or PNG, encoded from a Gray8 bitmap.</summary>
    public static string EncodeGray(int width, int height, Func<int, int, byte> value, string path, SKEncodedImageFormat format)
    {
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var v = value(x, y);
                bmp.SetPixel(x, y, new SKColor(v, v, v));
            }
        }
        return Encode(bmp, path, format);
    }

    /// <summary>A PNG written from raw samples (no filter), any bit depth and colour type, with a real zlib stream.</summary>
    public static byte[] Png(int width, int height, int bitDepth, int colorType, Func<int, int, int, int> sample, int samplesPerPixel)
    {
        var bytesPerSample = bitDepth / 8;
        var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (var x = 0; x < width; x++)
            {
                for (var s = 0; s < samplesPerPixel; s++)
                {
                    var v = sample(x, y, s);
                    if (bytesPerSample == 2)
                        raw.WriteByte((byte)(v >> 8));
                    raw.WriteByte((byte)v);
                }
            }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
            zs.Write(raw.ToArray());
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>A PNG that is only a signature and an IHDR chunk declaring the given size.</summary>
    public static byte[] PngHeaderOnly(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeBytes.Concat(data).ToArray()));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
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

    /// <summary>
    /// A GIF89a with a 4-colour palette and one frame per index array (width × height indices). The LZW stream sends a
    /// clear code every two pixels, so the code width stays 3 bits: valid, uncompressed-style GIF.
    /// </summary>
    public static byte[] Gif(int width, int height, (byte R, byte G, byte B)[] palette, params byte[][] frames)
    {
        var s = new MemoryStream();
        s.Write("GIF89a"u8);
        s.Write([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0xF1, 0, 0]); // global table of 4
        for (var i = 0; i < 4; i++)
            s.Write([palette[i].R, palette[i].G, palette[i].B]);
        foreach (var frame in frames)
        {
            s.Write([0x21, 0xF9, 4, 0, 10, 0, 0, 0]); // graphic control: 0.1 s, no transparency
            s.Write([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0]);
            s.WriteByte(2); // LZW minimum code size
            var bits = new List<bool>();
            void Code(int c)
            {
                for (var b = 0; b < 3; b++)
                    bits.Add(((c >> b) & 1) != 0);
            }
            for (var i = 0; i < frame.Length; i++)
            {
                if (i % 2 == 0)
                    Code(4);
                Code(frame[i]);
            }
            Code(5);
            var bytes = new byte[(bits.Count + 7) / 8];
            for (var i = 0; i < bits.Count; i++)
            {
                if (bits[i])
                    bytes[i / 8] |= (byte)(1 << (i % 8));
            }
            for (var o = 0; o < bytes.Length; o += 255)
            {
                var n = Math.Min(255, bytes.Length - o);
                s.WriteByte((byte)n);
                s.Write(bytes, o, n);
            }
            s.WriteByte(0);
        }
        s.WriteByte(0x3B);
        return s.ToArray();
    }

    /// <summary>Runs exiftool; null when it is not installed.</summary>
    public static string? ExifTool(params string[] args)
    {
        var psi = new ProcessStartInfo("exiftool") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"exiftool {string.Join(' ', args)} failed: {output}");
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static readonly Lazy<bool> ExifToolPresent = new(() => ExifTool("-ver") is not null);

    public static bool HasExifTool => ExifToolPresent.Value;
}
