using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;
using Xunit.Abstractions;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>
/// Damaged files: truncated at many offsets, length fields and header values overwritten, absurd dimensions. Every
/// case must end in success or a named error (DicomException / ImageDecodeException), never another exception, a
/// crash or a large allocation.
/// </summary>
public sealed class DicomFuzzTests(ITestOutputHelper output)
{
    private const long AllocationLimit = 64L << 20;

    private static readonly int FuzzCases = int.TryParse(Environment.GetEnvironmentVariable("RWKV_FUZZ_CASES"), out var n) ? n : 2000;

    internal static readonly int FuzzSeed = int.TryParse(Environment.GetEnvironmentVariable("RWKV_FUZZ_SEED"), out var s) ? s : 15;

    private static byte[] Native(bool explicitVr, bool little)
    {
        var item = new DicomWriter(explicitVr, little).Text(0x0008, 0x0100, "SH", "CODE");
        var w = new DicomWriter(explicitVr, little)
            .Text(0x0008, 0x0060, "CS", "CR")
            .Text(0x0009, 0x0010, "LO", "ACME")
            .Element(0x0009, 0x1001, "OB", [1, 2, 3])
            .Sequence(0x0008, 0x1140, true, true, item)
            .Sequence(0x0008, 0x2218, false, false, item)
            .Text(0x0010, 0x0020, "LO", "FUZZ")
            .Text(0x0028, 0x1050, "DS", "2000").Text(0x0028, 0x1051, "DS", "4000")
            .Text(0x0028, 0x1052, "DS", "-1024").Text(0x0028, 0x1053, "DS", "1")
            .Pixels(12, 10, 16, 12, 0, frames: 2)
            .PixelData16(Enumerable.Range(0, 240).Select(i => i * 17 % 4096));
        var ts = !explicitVr ? "1.2.840.10008.1.2" : little ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2.2";
        return DicomWriter.Part10(ts, w.ToArray());
    }

    private static byte[] Deflated()
    {
        var body = Native(true, true)[132..];
        var start = 12 + BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(8)); // skip the meta group
        using var ms = new MemoryStream();
        using (var z = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(body.AsSpan(start));
        return DicomWriter.Part10("1.2.840.10008.1.2.1.99", ms.ToArray());
    }

    /// <summary>RLE Lossless with literal runs only (enough for a seed).</summary>
    private static byte[] Rle()
    {
        const int rows = 9, cols = 7;
        var values = Enumerable.Range(0, rows * cols).Select(i => (ushort)(i * 301)).ToArray();
        var segments = new List<byte[]>();
        foreach (var shift in new[] { 8, 0 })
        {
            var plane = values.Select(v => (byte)(v >> shift)).ToArray();
            var seg = new List<byte>();
            for (var i = 0; i < plane.Length; i += 128)
            {
                var n = Math.Min(128, plane.Length - i);
                seg.Add((byte)(n - 1));
                seg.AddRange(plane.Skip(i).Take(n));
            }
            if (seg.Count % 2 == 1)
                seg.Add(0x80);
            segments.Add([.. seg]);
        }
        var frame = new byte[64 + segments.Sum(s => s.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), 64);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), (uint)(64 + segments[0].Length));
        segments[0].CopyTo(frame, 64);
        segments[1].CopyTo(frame, 64 + segments[0].Length);
        var w = new DicomWriter().Pixels(rows, cols, 16, 16, 0).Encapsulated(null, frame);
        return DicomWriter.Part10("1.2.840.10008.1.2.5", w.ToArray());
    }

    private static byte[] Jpeg(bool gray)
    {
        using var bmp = new SKBitmap(new SKImageInfo(24, 16, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (var y = 0; y < 16; y++)
        {
            for (var x = 0; x < 24; x++)
                bmp.SetPixel(x, y, new SKColor((byte)(x * 10), (byte)(y * 15), (byte)(x * y)));
        }
        using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, 85);
        var w = new DicomWriter().Pixels(16, 24, 8, 8, 0, gray ? "MONOCHROME2" : "YBR_FULL_422", gray ? 1 : 3).Encapsulated([0], data.ToArray());
        return DicomWriter.Part10("1.2.840.10008.1.2.4.50", w.ToArray());
    }

    public static TheoryData<string> Seeds => new() { "explicit-le", "implicit-le", "explicit-be", "deflated", "rle", "jpeg-gray", "jpeg-colour" };

    private static byte[] Seed(string name) => name switch
    {
        "explicit-le" => Native(true, true),
        "implicit-le" => Native(false, true),
        "explicit-be" => Native(true, false),
        "deflated" => Deflated(),
        "rle" => Rle(),
        "jpeg-gray" => Jpeg(true),
        _ => Jpeg(false),
    };

    /// <summary>Everything a loader does with a file; returns a short outcome, or throws when the outcome is not allowed.</summary>
    internal static string Exercise(byte[] data, string name)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        string outcome;
        try
        {
            var file = DicomFile.Parse(data, name);
            _ = file.Info;
            file.ReadPixels();
            DicomImage.ToImage(file);
            outcome = "decoded";
        }
        catch (DicomException e)
        {
            Assert.Equal(name, e.Path);
            Assert.False(string.IsNullOrWhiteSpace(e.Reason));
            outcome = "error";
        }
        try
        {
            ImageDecoder.Decode(data, name);
        }
        catch (ImageDecodeException e)
        {
            Assert.Equal(name, e.Path);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationLimit, $"{name}: allocated {allocated} bytes");
        return outcome;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Seeds_decode_and_truncations_at_every_offset_give_named_errors(string seed)
    {
        var data = Seed(seed);
        Assert.Equal("decoded", Exercise(data, seed));
        var errors = 0;
        for (var n = 0; n < data.Length; n++)
        {
            if (Exercise(data[..n], $"{seed}-cut{n}") == "error")
                errors++;
        }
        output.WriteLine($"{seed}: {data.Length} truncations, {errors} named errors, {data.Length - errors} still decode (cut in padding or trailing bytes)");
        Assert.True(errors > data.Length / 2);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Overwritten_lengths_and_bytes_give_named_errors(string seed)
    {
        var data = Seed(seed);
        var rng = new Random(FuzzSeed + seed.Sum(c => c)); // string.GetHashCode is randomised per process
        uint[] lengths = [0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, (uint)data.Length, (uint)data.Length + 1, 0xFFFF, 1, 3];
        var outcomes = new Dictionary<string, int>();
        for (var k = 0; k < FuzzCases; k++)
        {
            var mutant = (byte[])data.Clone();
            var at = rng.Next(132, mutant.Length - 4);
            switch (k % 3)
            {
                case 0:
                    BinaryPrimitives.WriteUInt32LittleEndian(mutant.AsSpan(at), lengths[rng.Next(lengths.Length)]);
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt16LittleEndian(mutant.AsSpan(at), (ushort)lengths[rng.Next(lengths.Length)]);
                    break;
                default:
                    for (var j = 0; j < 4; j++)
                        mutant[rng.Next(132, mutant.Length)] = (byte)rng.Next(256);
                    break;
            }
            var o = Exercise(mutant, $"{seed}-mutant{k}");
            outcomes[o] = outcomes.GetValueOrDefault(o) + 1;
        }
        output.WriteLine($"{seed}: {string.Join(", ", outcomes.Select(p => $"{p.Value} {p.Key}"))}");
    }

    [Theory]
    [InlineData(0x0010, 65535)]  // Rows
    [InlineData(0x0011, 65535)]  // Columns
    [InlineData(0x0010, 0)]
    [InlineData(0x0100, 64)]     // Bits Allocated
    [InlineData(0x0100, 0)]
    [InlineData(0x0101, 40)]     // Bits Stored above Bits Allocated
    [InlineData(0x0002, 200)]    // Samples per Pixel
    [InlineData(0x0103, 7)]      // Pixel Representation
    public void Absurd_image_attributes_give_named_errors(int element, int value)
    {
        foreach (var seed in new[] { "explicit-le", "rle", "jpeg-gray" })
        {
            var w = Seed(seed);
            var file = DicomFile.Parse(w, seed);
            var e = file.Dataset.Get(new DicomTag(0x0028, (ushort)element))!;
            BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan(e.Offset), (ushort)value);
            Assert.Equal("error", Exercise(w, $"{seed}-{element:X4}={value}"));
        }
    }

    [Fact]
    public void Absurd_frame_counts_give_named_errors()
    {
        foreach (var frames in new[] { "0", "-3", "2147483647", "99999999999", "1.5", "x" })
        {
            var w = new DicomWriter().Text(0x0028, 0x0008, "IS", frames).Pixels(4, 4, 16, 16, 0).PixelData16(new int[16]);
            Assert.Equal("error", Exercise(DicomWriter.Part10("1.2.840.10008.1.2.1", w.ToArray()), $"frames={frames}"));
        }
    }
}
