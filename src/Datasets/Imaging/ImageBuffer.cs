namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// One image as a plain float array in channel-major order ([C,H,W]), values nominally in [0, 1] (after normalisation,
/// any range). Per-sample work happens on these arrays on worker threads; tensors are created only when a batch is
/// collated, so no worker ever owns native tensor memory.
/// </summary>
public sealed class ImageBuffer
{
    public ImageBuffer(int channels, int height, int width)
        : this(channels, height, width, new float[checked(channels * height * width)])
    {
    }

    public ImageBuffer(int channels, int height, int width, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (data.Length != (long)channels * height * width)
            throw new ArgumentException($"Data length {data.Length} does not match {channels}x{height}x{width}.", nameof(data));
        Channels = channels;
        Height = height;
        Width = width;
        Data = data;
    }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Pixels as [C,H,W]: element (c, y, x) is at <c>(c * Height + y) * Width + x</c>.</summary>
#pragma warning disable CA1819 // The array is the point: transforms write into it without copies.
    public float[] Data { get; }
#pragma warning restore CA1819

    public int PlaneSize => Height * Width;

    public float this[int c, int y, int x]
    {
        get => Data[(c * Height + y) * Width + x];
        set => Data[(c * Height + y) * Width + x] = value;
    }

    public Span<float> Plane(int c) => Data.AsSpan(c * PlaneSize, PlaneSize);

    public ImageBuffer Clone() => new(Channels, Height, Width, (float[])Data.Clone());

    /// <summary>An 8-bit grayscale or RGB image from interleaved bytes ([H,W,C]), scaled to [0, 1].</summary>
    public static unsafe ImageBuffer FromInterleavedBytes(ReadOnlySpan<byte> hwc, int height, int width, int channels)
    {
        var img = new ImageBuffer(channels, height, width);
        var plane = height * width;
        if (hwc.Length < plane * channels)
            throw new ArgumentException($"Need {plane * channels} bytes, got {hwc.Length}.", nameof(hwc));
        const float inv = 1f / 255f;
        fixed (byte* s = hwc)
        fixed (float* d = img.Data)
        {
            if (channels == 3)
            {
                float* r = d, g = d + plane, b = d + 2 * plane;
                for (var i = 0; i < plane; i++)
                {
                    r[i] = s[3 * i] * inv;
                    g[i] = s[3 * i + 1] * inv;
                    b[i] = s[3 * i + 2] * inv;
                }
            }
            else
            {
                for (var i = 0; i < plane; i++)
                {
                    for (var c = 0; c < channels; c++)
                        d[c * plane + i] = s[i * channels + c] * inv;
                }
            }
        }
        return img;
    }
}
