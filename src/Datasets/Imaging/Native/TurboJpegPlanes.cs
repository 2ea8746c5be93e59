using System.Runtime.InteropServices;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;

namespace VisionRwkv.Datasets.Imaging.Native;

/// <summary>
/// 8-bit sequential JPEG through the system's TurboJPEG (libjpeg-turbo) as raw component planes: Huffman decoding and the
/// SIMD inverse DCT, without colour conversion (DICOM keeps YBR as YBR, as GDCM and pydicom return it). Subsampled planes
/// are then upsampled by <see cref="JpegUpsampler"/> the way libjpeg 6b does. Returns null when TurboJPEG is absent or
/// cannot take the stream (12-bit, lossless, unusual subsampling), so the caller falls back to our own decoder.
/// </summary>
internal static unsafe class TurboJpegPlanes
{
    private const int SampGray = 3;

    private static readonly Api? Functions = Load();

    public static bool IsAvailable => Functions is not null;

    /// <summary>Horizontal and vertical expansion of the chroma planes for each TurboJPEG subsampling code.</summary>
    private static (int H, int V)? Expansion(int subsamp) => subsamp switch
    {
        0 => (1, 1),
        1 => (2, 1),
        2 => (2, 2),
        SampGray => (1, 1),
        4 => (1, 2),
        5 => (4, 1),
        _ => null,
    };

    /// <summary>Decodes, or returns null; a frame whose size is not <paramref name="expected"/> is left to our decoder to refuse.</summary>
    public static DecodedFrame? TryDecode(byte[] jpeg, (int Width, int Height)? expected = null)
    {
        var api = Functions;
        if (api is null)
            return null;
        var handle = api.Init();
        if (handle == IntPtr.Zero)
            return null;
        try
        {
            int w, h, subsamp, colorspace;
            fixed (byte* p = jpeg)
            {
                if (api.Header(handle, p, new CULong((nuint)jpeg.Length), &w, &h, &subsamp, &colorspace) != 0)
                    return null;
            }
            if (Expansion(subsamp) is not { } expand || w <= 0 || h <= 0 || expected is { } e && (e.Width != w || e.Height != h))
                return null;
            var n = subsamp == SampGray ? 1 : 3;
            var planes = new byte[n][];
            var strides = new int[n];
            var heights = new int[n];
            for (var c = 0; c < n; c++)
            {
                strides[c] = api.PlaneWidth(c, w, subsamp);
                heights[c] = api.PlaneHeight(c, h, subsamp);
                if (strides[c] <= 0 || heights[c] <= 0)
                    return null;
                planes[c] = new byte[checked(strides[c] * heights[c])];
            }
            var handles = planes.Select(pl => GCHandle.Alloc(pl, GCHandleType.Pinned)).ToArray();
            try
            {
                var ptrs = stackalloc IntPtr[n];
                for (var c = 0; c < n; c++)
                    ptrs[c] = handles[c].AddrOfPinnedObject();
                int rc;
                fixed (byte* src = jpeg)
                fixed (int* st = strides)
                {
                    rc = api.ToPlanes(handle, src, new CULong((nuint)jpeg.Length), (byte**)ptrs, w, st, h, 0);
                }
                // -1 also reports warnings (such as data ending early): leave those to our decoder, which names them.
                if (rc != 0)
                    return null;
            }
            finally
            {
                foreach (var g in handles)
                    g.Free();
            }

            var output = new int[checked(w * h * n)];
            for (var c = 0; c < n; c++)
            {
                var (he, ve) = c == 0 ? (1, 1) : expand;
                var compWidth = (w + he - 1) / he;
                var compHeight = (h + ve - 1) / ve;
                var plane = new int[planes[c].Length];
                for (var i = 0; i < plane.Length; i++)
                    plane[i] = planes[c][i];
                JpegUpsampler.Upsample(plane, strides[c], compWidth, compHeight, he, ve, output, w, h, n, c);
            }
            return new DecodedFrame(w, h, n, 8, false, output);
        }
        finally
        {
            api.Destroy(handle);
        }
    }

    private static Api? Load()
    {
        var f = NativeExports.Load(NativeExports.TurboJpeg,
            "tjInitDecompress", "tjDecompressHeader3", "tjDecompressToYUVPlanes", "tjPlaneWidth", "tjPlaneHeight", "tjDestroy");
        return f is null ? null : new Api(
            (delegate* unmanaged<IntPtr>)f[0],
            (delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int>)f[1],
            (delegate* unmanaged<IntPtr, byte*, CULong, byte**, int, int*, int, int, int>)f[2],
            (delegate* unmanaged<int, int, int, int>)f[3],
            (delegate* unmanaged<int, int, int, int>)f[4],
            (delegate* unmanaged<IntPtr, int>)f[5]);
    }

    private sealed class Api(
        delegate* unmanaged<IntPtr> init,
        delegate* unmanaged<IntPtr, byte*, CULong, int*, int*, int*, int*, int> header,
        delegate* unmanaged<IntPtr, byte*, CULong, byte**, int, int*, int, int, int> toPlanes,
        delegate* unmanaged<int, int, int, int> planeWidth,
        delegate* unmanaged<int, int, int, int> planeHeight,
        delegate* unmanaged<IntPtr, int> destroy)
    {
        public IntPtr Init() => init();

        public int Header(IntPtr h, byte* src, CULong size, int* w, int* hh, int* sub, int* cs) => header(h, src, size, w, hh, sub, cs);

        public int ToPlanes(IntPtr h, byte* src, CULong size, byte** planes, int w, int* strides, int hh, int flags) =>
            toPlanes(h, src, size, planes, w, strides, hh, flags);

        public int PlaneWidth(int c, int w, int s) => planeWidth(c, w, s);

        public int PlaneHeight(int c, int h, int s) => planeHeight(c, h, s);

        public int Destroy(IntPtr h) => destroy(h);
    }
}
