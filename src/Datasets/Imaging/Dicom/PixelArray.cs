using System.Buffers.Binary;

namespace VisionRwkv.Datasets.Imaging.Dicom;

/// <summary>The element type of stored pixel values, named as numpy names it (what pydicom's pixel_array uses).</summary>
public enum PixelDataType
{
    UInt8,
    Int8,
    UInt16,
    Int16,
    UInt32,
    Int32,
}

/// <summary>
/// Stored pixel values exactly as pydicom's <c>pixel_array</c> holds them: frames x rows x columns x samples, in the
/// type that Bits Allocated and Pixel Representation give (1-bit data unpacked to one byte per pixel), little endian in
/// <see cref="Data"/> whatever the file's byte order. No LUT, mask or colour conversion is applied.
/// </summary>
public sealed class PixelArray
{
    public PixelArray(PixelDataType type, int frames, int rows, int columns, int samples, bool multiFrame)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        Type = type;
        Frames = frames;
        Rows = rows;
        Columns = columns;
        Samples = samples;
        MultiFrame = multiFrame;
        Data = new byte[checked((long)frames * rows * columns * samples * ElementSizeOf(type))];
    }

    public PixelDataType Type { get; }

    public int Frames { get; }

    public int Rows { get; }

    public int Columns { get; }

    public int Samples { get; }

    /// <summary>True when the file declares more than one frame: then pydicom's shape starts with the frame count.</summary>
    public bool MultiFrame { get; }

#pragma warning disable CA1819 // The raw buffer is the point: writers and comparisons use it without copies.
    public byte[] Data { get; }
#pragma warning restore CA1819

    public int ElementSize => ElementSizeOf(Type);

    public long Length => (long)Frames * Rows * Columns * Samples;

    public long FrameLength => (long)Rows * Columns * Samples;

    public bool IsSigned => Type is PixelDataType.Int8 or PixelDataType.Int16 or PixelDataType.Int32;

    /// <summary>numpy's name for the type ("uint16", ...).</summary>
    public string NumpyType => Type.ToString().ToLowerInvariant();

    /// <summary>pydicom's array shape: [frames,] rows, columns[, samples].</summary>
    public int[] Shape
    {
        get
        {
            var shape = new List<int>();
            if (MultiFrame)
                shape.Add(Frames);
            shape.Add(Rows);
            shape.Add(Columns);
            if (Samples > 1)
                shape.Add(Samples);
            return [.. shape];
        }
    }

    public static int ElementSizeOf(PixelDataType t) => t switch
    {
        PixelDataType.UInt8 or PixelDataType.Int8 => 1,
        PixelDataType.UInt16 or PixelDataType.Int16 => 2,
        _ => 4,
    };

    /// <summary>Element <paramref name="index"/> of the flat [F,R,C,S] array.</summary>
    public long this[long index]
    {
        get => Type switch
        {
            PixelDataType.UInt8 => Data[index],
            PixelDataType.Int8 => (sbyte)Data[index],
            PixelDataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan((int)(index * 2))),
            PixelDataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(Data.AsSpan((int)(index * 2))),
            PixelDataType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(Data.AsSpan((int)(index * 4))),
            _ => BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan((int)(index * 4))),
        };
        set
        {
            switch (Type)
            {
                case PixelDataType.UInt8:
                case PixelDataType.Int8:
                    Data[index] = unchecked((byte)value);
                    break;
                case PixelDataType.UInt16:
                case PixelDataType.Int16:
                    BinaryPrimitives.WriteUInt16LittleEndian(Data.AsSpan((int)(index * 2)), unchecked((ushort)value));
                    break;
                default:
                    BinaryPrimitives.WriteUInt32LittleEndian(Data.AsSpan((int)(index * 4)), unchecked((uint)value));
                    break;
            }
        }
    }

    /// <summary>The values of one frame as doubles (exact for every integer type), [R,C,S].</summary>
    public double[] FrameValues(int frame)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)frame, (uint)Frames);
        var n = FrameLength;
        var result = new double[n];
        var start = frame * n;
        for (long i = 0; i < n; i++)
            result[i] = this[start + i];
        return result;
    }
}
