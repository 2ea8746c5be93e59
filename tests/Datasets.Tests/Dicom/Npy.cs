using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>Reads numpy .npy files (format 1.0-3.0, C order, little-endian or single-byte types) as doubles.</summary>
internal sealed partial class Npy
{
    private Npy(string descr, int[] shape, double[] values)
    {
        Descr = descr;
        Shape = shape;
        Values = values;
    }

    /// <summary>numpy type string, e.g. "&lt;u2" or "|u1".</summary>
    public string Descr { get; }

    public int[] Shape { get; }

    public double[] Values { get; }

    /// <summary>The numpy dtype name ("uint16", "float64", ...).</summary>
    public string TypeName => Descr[1..] switch
    {
        "u1" => "uint8", "i1" => "int8", "u2" => "uint16", "i2" => "int16", "u4" => "uint32", "i4" => "int32",
        "u8" => "uint64", "i8" => "int64", "f4" => "float32", "f8" => "float64", "b1" => "bool",
        var d => d,
    };

    public bool IsInteger => Descr[1] is 'u' or 'i' or 'b';

    public static Npy Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not an .npy file");
        int headerLength, start;
        if (bytes[6] == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            start = 10;
        }
        else
        {
            headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            start = 12;
        }
        var header = Encoding.Latin1.GetString(bytes, start, headerLength);
        var descr = DescrPattern().Match(header).Groups[1].Value;
        if (FortranPattern().IsMatch(header))
            throw new InvalidDataException($"{path}: Fortran order is not supported");
        var shapeText = ShapePattern().Match(header).Groups[1].Value;
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (descr[0] == '>')
            throw new InvalidDataException($"{path}: big-endian arrays are not supported");
        var data = bytes.AsSpan(start + headerLength);
        var count = shape.Aggregate(1L, (a, b) => a * b);
        var values = new double[count];
        var kind = descr[1..];
        for (var i = 0; i < count; i++)
        {
            values[i] = kind switch
            {
                "u1" or "b1" => data[i],
                "i1" => (sbyte)data[i],
                "u2" => BinaryPrimitives.ReadUInt16LittleEndian(data[(2 * i)..]),
                "i2" => BinaryPrimitives.ReadInt16LittleEndian(data[(2 * i)..]),
                "u4" => BinaryPrimitives.ReadUInt32LittleEndian(data[(4 * i)..]),
                "i4" => BinaryPrimitives.ReadInt32LittleEndian(data[(4 * i)..]),
                "u8" => BinaryPrimitives.ReadUInt64LittleEndian(data[(8 * i)..]),
                "i8" => BinaryPrimitives.ReadInt64LittleEndian(data[(8 * i)..]),
                "f4" => BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]),
                "f8" => BinaryPrimitives.ReadDoubleLittleEndian(data[(8 * i)..]),
                _ => throw new InvalidDataException($"{path}: unsupported dtype {descr}"),
            };
        }
        return new Npy(descr, shape, values);
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order':\s*True")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
