using System.Buffers.Binary;
using System.Runtime.InteropServices;

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
        var n = (int)FrameLength;
        var result = new double[n];
        var bytes = Data.AsSpan(frame * n * ElementSize, n * ElementSize);
        // Typed loops: this runs on every pixel of every image the loader reads (the data is little endian, as is every
        // machine .NET runs on: checked once below).
        if (!BitConverter.IsLittleEndian)
        {
            for (var i = 0; i < n; i++)
                result[i] = this[(long)frame * n + i];
            return result;
        }
        switch (Type)
        {
            case PixelDataType.UInt8:
                for (var i = 0; i < n; i++)
                    result[i] = bytes[i];
                break;
            case PixelDataType.Int8:
                var s8 = MemoryMarshal.Cast<byte, sbyte>(bytes);
                for (var i = 0; i < n; i++)
                    result[i] = s8[i];
                break;
            case PixelDataType.UInt16:
                var u16 = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (var i = 0; i < n; i++)
                    result[i] = u16[i];
                break;
            case PixelDataType.Int16:
                var s16 = MemoryMarshal.Cast<byte, short>(bytes);
                for (var i = 0; i < n; i++)
                    result[i] = s16[i];
                break;
            case PixelDataType.UInt32:
                var u32 = MemoryMarshal.Cast<byte, uint>(bytes);
                for (var i = 0; i < n; i++)
                    result[i] = u32[i];
                break;
            default:
                var s32 = MemoryMarshal.Cast<byte, int>(bytes);
                for (var i = 0; i < n; i++)
                    result[i] = s32[i];
                break;
        }
        return result;
    }

    /// <summary>Stores one frame of decoded samples, each cut to the element type as a C cast would (what GDCM does).</summary>
    internal void SetFrame(int frame, int[] samples)
    {
        var n = (int)FrameLength;
        if (samples.Length < n)
            throw new ArgumentException($"{samples.Length} samples for a frame of {n}", nameof(samples));
        var bytes = Data.AsSpan(frame * n * ElementSize, n * ElementSize);
        if (!BitConverter.IsLittleEndian)
        {
            for (var i = 0; i < n; i++)
                this[(long)frame * n + i] = samples[i];
            return;
        }
        switch (ElementSize)
        {
            case 1:
                for (var i = 0; i < n; i++)
                    bytes[i] = unchecked((byte)samples[i]);
                break;
            case 2:
                var u16 = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (var i = 0; i < n; i++)
                    u16[i] = unchecked((ushort)samples[i]);
                break;
            default:
                MemoryMarshal.Cast<int, byte>(samples.AsSpan(0, n)).CopyTo(bytes);
                break;
        }
    }
}
