using System.Runtime.InteropServices;

namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// JPEG decoding through the system's TurboJPEG library (Debian/Ubuntu <c>libturbojpeg0</c>), when present. SkiaSharp's
/// bundled JPEG decoder runs without libjpeg-turbo's SIMD paths here and is several times slower on large photos; this
/// path decodes the same DCT-scaled sizes with SIMD. Absent library, CMYK files or any error in setup fall back to Skia.
/// libjpeg-turbo 2.0 or newer is needed (tjGetErrorCode tells warnings from fatal errors).
/// A test compares the two decoders' pixels.
/// </summary>
internal static unsafe class TurboJpeg
{
    private const int PixelFormatRgb = 0;
    private const int PixelFormatGray = 6;
    private const int ColorspaceGray = 2;
    private const int ColorspaceCmyk = 3;
    private const int ColorspaceYcck = 4;

    private static readonly Api? Functions = Load();

    public static bool IsAvailable => Functions is not null;

    /// <summary>Width, height and whether the file is greyscale; null when TurboJPEG cannot read it (Skia will).</summary>
    public static (int Width, int Height, bool Gray)? ReadHeader(byte[] data)
    {
        var api = Functions!;
        var handle = api.Init();
        if (handle == IntPtr.Zero)
            return null;
        try
        {
            int w, h, subsamp, colorspace;
            fixed (byte* p = data)
            {
                if (api.Header(handle, p, new CULong((nuint)data.Length), &w, &h, &subsamp, &colorspace) != 0)
                    return null;
            }
            if (colorspace is ColorspaceCmyk or ColorspaceYcck)
                return null;
            return (w, h, colorspace == ColorspaceGray);
        }
        finally
        {
            api.Destroy(handle);
        }
    }

    /// <summary>
    /// Decodes at <paramref name="width"/> × <paramref name="height"/> (a size from <see cref="ScaledSize"/>). A warning
    /// (premature end of data, extraneous bytes, a corrupt Huffman code) does not stop libjpeg-turbo's default mode, which
    /// fills what is missing and finishes, as djpeg and Pillow do: such a file is decoded and the warning returned in
    /// <paramref name="warning"/>. Only fatal errors throw.
    /// </summary>
    public static ImageBuffer Decode(byte[] data, int width, int height, bool gray, string name, out string? warning)
    {
        var api = Functions!;
        var channels = gray ? 1 : 3;
        var pixels = new byte[checked(width * height * channels)];
        var handle = api.Init();
        if (handle == IntPtr.Zero)
            throw new ImageDecodeException(name, "TurboJPEG could not start a decoder");
        warning = null;
        try
        {
            int rc;
            fixed (byte* src = data)
            fixed (byte* dst = pixels)
            {
                rc = api.Decompress(handle, src, new CULong((nuint)data.Length), dst, width, width * channels, height,
                    gray ? PixelFormatGray : PixelFormatRgb, 0);
            }
            if (rc != 0)
            {
                var message = Marshal.PtrToStringAnsi(api.ErrorString(handle)) ?? "unknown error";
                // tjGetErrorCode: 0 = TJERR_WARNING (the image was decoded), 1 = TJERR_FATAL.
                if (api.ErrorCode(handle) == 0)
                    warning = message;
                else
                {
                    var truncated = message.Contains("Premature end", StringComparison.OrdinalIgnoreCase);
                    throw new ImageDecodeException(name, truncated ? $"truncated file ({message})" : $"corrupt image data ({message})",
                        truncated ? DecodeFailure.Truncated : DecodeFailure.Corrupt);
                }
            }
        }
        finally
        {
            api.Destroy(handle);
        }
        return ImageBuffer.FromInterleavedBytes(pixels, height, width, channels);
    }

    /// <summary>TurboJPEG's size for a k/8 scale: each side rounded up.</summary>
    public static (int Width, int Height) ScaledSize(int width, int height, int eighths) =>
        ((width * eighths + 7) / 8, (height * eighths + 7) / 8);

    private static Api? Load()
    {
        var f = Native.NativeExports.Load(Native.NativeExports.TurboJpeg,
            "tjInitDecompress", "tjDecompressHeader3", "tjDecompress2", "tjDestroy", "tjGetErrorStr2", "tjGetErrorCode");
        return f is null ? null : new Api(
            (delegate* unmanaged<IntPtr>)f[0],
            (delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int>)f[1],
            (delegate* unmanaged<IntPtr, byte*, CULong, byte*, int, int, int, int, int, int>)f[2],
            (delegate* unmanaged<IntPtr, int>)f[3],
            (delegate* unmanaged<IntPtr, IntPtr>)f[4],
            (delegate* unmanaged<IntPtr, int>)f[5]);
    }

    private sealed class Api(
        delegate* unmanaged<IntPtr> init,
        delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int> header,
        delegate* unmanaged<IntPtr, byte*, CULong, byte*, int, int, int, int, int, int> decompress,
        delegate* unmanaged<IntPtr, int> destroy,
        delegate* unmanaged<IntPtr, IntPtr> error,
        delegate* unmanaged<IntPtr, int> code)
    {
        public IntPtr Init() => init();

        public int Header(IntPtr h, byte* src, CULong size, int* w, int* hh, int* sub, int* cs) => header(h, src, size, w, hh, sub, cs);

        public int Decompress(IntPtr h, byte* src, CULong size, byte* dst, int w, int pitch, int hh, int pf, int flags) =>
            decompress(h, src, size, dst, w, pitch, hh, pf, flags);

        public int Destroy(IntPtr h) => destroy(h);

        public IntPtr ErrorString(IntPtr h) => error(h);

        public int ErrorCode(IntPtr h) => code(h);
    }
}
