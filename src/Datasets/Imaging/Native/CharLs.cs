using System.Runtime.InteropServices;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;

namespace VisionRwkv.Datasets.Imaging.Native;

/// <summary>
/// JPEG-LS decoding (lossless and near-lossless) through the system's CharLS (<c>libcharls</c>, Debian
/// <c>libcharls2</c>), through its C API (CharLS 2.1 or later). Samples come back interleaved by pixel whatever the
/// stream's interleave mode.
/// </summary>
internal static unsafe class CharLs
{
    private const int InterleaveNone = 0;

    private static readonly Api? Functions = Load();

    public static bool IsAvailable => Functions is not null;

    [StructLayout(LayoutKind.Sequential)]
    private struct FrameInfo
    {
        public uint Width;
        public uint Height;
        public int BitsPerSample;
        public int ComponentCount;
    }

    /// <summary>Decodes one frame; a header declaring another size than <paramref name="expected"/> is refused before decoding.</summary>
    public static DecodedFrame Decode(byte[] data, long maxPixels, (int Width, int Height)? expected = null)
    {
        var api = Functions ?? throw new CodecException("JPEG-LS needs CharLS (libcharls), which is not installed (Debian: apt-get install libcharls2)");
        var decoder = api.Create();
        if (decoder == IntPtr.Zero)
            throw new CodecException("CharLS could not create a decoder");
        try
        {
            fixed (byte* p = data)
            {
                Check(api, api.SetSource(decoder, p, (nuint)data.Length), "cannot read the JPEG-LS data");
                Check(api, api.ReadHeader(decoder), "cannot read the JPEG-LS header");
                FrameInfo info;
                Check(api, api.GetFrameInfo(decoder, &info), "cannot read the JPEG-LS frame information");
                int interleave;
                Check(api, api.GetInterleaveMode(decoder, &interleave), "cannot read the JPEG-LS interleave mode");
                if (info.Width == 0 || info.Height == 0 || (long)info.Width * info.Height > maxPixels)
                    throw new CodecException($"the JPEG-LS frame declares {info.Width}x{info.Height}, outside 1 to {maxPixels} pixels");
                if (expected is { } e && (e.Width != info.Width || e.Height != info.Height))
                    throw new CodecException($"the compressed frame is {info.Width}x{info.Height} but Columns x Rows say {e.Width}x{e.Height}");
                if (info.ComponentCount is < 1 or > 4 || info.BitsPerSample is < 2 or > 16)
                    throw new CodecException($"the JPEG-LS frame declares {info.ComponentCount} components of {info.BitsPerSample} bits");
                nuint size;
                Check(api, api.GetDestinationSize(decoder, 0, &size), "cannot size the JPEG-LS output");
                int w = (int)info.Width, h = (int)info.Height, n = info.ComponentCount;
                var bytesPer = info.BitsPerSample > 8 ? 2 : 1;
                var outputBytes = (long)w * h * n * bytesPer;
                if ((long)size != outputBytes)
                    throw new CodecException($"CharLS reports {size} output bytes for a {w}x{h}x{n} frame, expected {outputBytes}");
                var raw = new byte[outputBytes];
                fixed (byte* dst = raw)
                    Check(api, api.DecodeToBuffer(decoder, dst, size, 0), "the JPEG-LS data cannot be decoded");

                var output = new int[checked(w * h * n)];
                var plane = w * h;
                // Interleave mode "none" comes back component by component: reorder to pixel-interleaved.
                var planes = interleave == InterleaveNone && n > 1 ? n : 1;
                var perPlane = planes == 1 ? plane * n : plane;
                var step = planes == 1 ? 1 : n;
                for (var c = 0; c < planes; c++)
                {
                    var src = c * perPlane;
                    for (int i = 0, o = c; i < perPlane; i++, o += step)
                        output[o] = bytesPer == 2 ? raw[2 * (src + i)] | raw[2 * (src + i) + 1] << 8 : raw[src + i];
                }
                return new DecodedFrame(w, h, n, info.BitsPerSample, false, output);
            }
        }
        finally
        {
            api.Destroy(decoder);
        }
    }

    private static void Check(Api api, int rc, string what)
    {
        if (rc != 0)
            throw new CodecException($"{what} (CharLS: {Marshal.PtrToStringAnsi(api.ErrorMessage(rc)) ?? rc.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
    }

    private static Api? Load()
    {
        var f = NativeExports.Load(NativeExports.CharLs,
            "charls_jpegls_decoder_create", "charls_jpegls_decoder_destroy", "charls_jpegls_decoder_set_source_buffer",
            "charls_jpegls_decoder_read_header", "charls_jpegls_decoder_get_frame_info", "charls_jpegls_decoder_get_interleave_mode",
            "charls_jpegls_decoder_get_destination_size", "charls_jpegls_decoder_decode_to_buffer", "charls_get_error_message");
        return f is null ? null : new Api(f);
    }

    private sealed class Api(IntPtr[] f)
    {
        private readonly delegate* unmanaged[Cdecl]<IntPtr> create = (delegate* unmanaged[Cdecl]<IntPtr>)f[0];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void> destroy = (delegate* unmanaged[Cdecl]<IntPtr, void>)f[1];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, int> setSource = (delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, int>)f[2];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, int> readHeader = (delegate* unmanaged[Cdecl]<IntPtr, int>)f[3];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, FrameInfo*, int> getFrameInfo = (delegate* unmanaged[Cdecl]<IntPtr, FrameInfo*, int>)f[4];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, int*, int> getInterleave = (delegate* unmanaged[Cdecl]<IntPtr, int*, int>)f[5];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, uint, nuint*, int> getDestinationSize = (delegate* unmanaged[Cdecl]<IntPtr, uint, nuint*, int>)f[6];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, uint, int> decodeToBuffer = (delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, uint, int>)f[7];
        private readonly delegate* unmanaged[Cdecl]<int, IntPtr> errorMessage = (delegate* unmanaged[Cdecl]<int, IntPtr>)f[8];

        public IntPtr Create() => create();

        public void Destroy(IntPtr d) => destroy(d);

        public int SetSource(IntPtr d, void* p, nuint n) => setSource(d, p, n);

        public int ReadHeader(IntPtr d) => readHeader(d);

        public int GetFrameInfo(IntPtr d, FrameInfo* info) => getFrameInfo(d, info);

        public int GetInterleaveMode(IntPtr d, int* mode) => getInterleave(d, mode);

        public int GetDestinationSize(IntPtr d, uint stride, nuint* size) => getDestinationSize(d, stride, size);

        public int DecodeToBuffer(IntPtr d, void* dst, nuint size, uint stride) => decodeToBuffer(d, dst, size, stride);

        public IntPtr ErrorMessage(int rc) => errorMessage(rc);
    }
}
