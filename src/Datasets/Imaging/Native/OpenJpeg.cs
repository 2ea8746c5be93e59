using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VisionRwkv.Datasets.Imaging.Dicom.Codecs;

namespace VisionRwkv.Datasets.Imaging.Native;

/// <summary>
/// JPEG 2000 decoding through the system's OpenJPEG (<c>libopenjp2</c>, Debian <c>libopenjp2-7</c>), the library GDCM
/// also uses: a raw codestream (FF 4F) or a JP2 file (the DICOM standard wants the codestream; some writers store JP2).
/// Reads from memory through OpenJPEG's stream callbacks. The struct layouts are OpenJPEG 2.x's public ones
/// (opj_image_t, opj_image_comp_t), stable across 2.1-2.5.
/// </summary>
internal static unsafe class OpenJpeg
{
    private const int CodecJ2k = 0;
    private const int CodecJp2 = 2;
    private const int ParametersBytes = 16384; // opj_dparameters_t is 8252 bytes in 2.5; room to spare

    private static readonly Api? Functions = Load();

    public static bool IsAvailable => Functions is not null;

    [StructLayout(LayoutKind.Sequential)]
    private struct ImageComp
    {
        public uint Dx;
        public uint Dy;
        public uint W;
        public uint H;
        public uint X0;
        public uint Y0;
        public uint Prec;
        public uint Bpp;
        public uint Sgnd;
        public uint ResnoDecoded;
        public uint Factor;
        public int* Data;
        public ushort Alpha;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Image
    {
        public uint X0;
        public uint Y0;
        public uint X1;
        public uint Y1;
        public uint NumComps;
        public int ColorSpace;
        public ImageComp* Comps;
        public byte* IccProfile;
        public uint IccLength;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Source
    {
        public byte* Data;
        public long Length;
        public long Position;
        public IntPtr Error; // GCHandle of a List<string> collecting OpenJPEG's error messages
    }

    /// <summary>Precision and signedness from the SIZ marker of a raw codestream (what pydicom reads for its J2K fixes); null for JP2 or unreadable.</summary>
    public static (int Precision, bool Signed)? CodestreamParameters(ReadOnlySpan<byte> j2k)
    {
        if (j2k.Length < 43 || j2k[0] != 0xFF || j2k[1] != 0x4F || j2k[2] != 0xFF || j2k[3] != 0x51)
            return null;
        var ssiz = j2k[42];
        return (ssiz & 0x80) != 0 ? ((ssiz & 0x7F) + 1, true) : (ssiz + 1, false);
    }

    /// <summary>Decodes one frame; a header declaring another size than <paramref name="expected"/> is refused before decoding.</summary>
    public static DecodedFrame Decode(byte[] data, long maxPixels, (int Width, int Height)? expected = null)
    {
        var api = Functions ?? throw new CodecException("JPEG 2000 needs OpenJPEG (libopenjp2), which is not installed (Debian: apt-get install libopenjp2-7)");
        if (data.Length < 12)
            throw new CodecException($"the JPEG 2000 data is only {data.Length} bytes");
        var format = data[0] == 0xFF && data[1] == 0x4F ? CodecJ2k
            : data[4] == (byte)'j' && data[5] == (byte)'P' ? CodecJp2
            : throw new CodecException("the JPEG 2000 data starts with neither a codestream (FF 4F) nor a JP2 signature box");

        var errors = new List<string>();
        var errorHandle = GCHandle.Alloc(errors);
        var codec = IntPtr.Zero;
        var stream = IntPtr.Zero;
        Image* image = null;
        var parameters = NativeMemory.AllocZeroed(ParametersBytes);
        var source = (Source*)NativeMemory.AllocZeroed((nuint)sizeof(Source));
        try
        {
            fixed (byte* p = data)
            {
                *source = new Source { Data = p, Length = data.Length, Position = 0, Error = GCHandle.ToIntPtr(errorHandle) };
                codec = api.CreateDecompress(format);
                if (codec == IntPtr.Zero)
                    throw new CodecException("OpenJPEG could not create a decoder");
                api.SetErrorHandler(codec, &OnError, (IntPtr)source);
                api.SetDefaultParameters(parameters);
                if (api.SetupDecoder(codec, parameters) == 0)
                    throw Fail("OpenJPEG rejected the decoder setup", errors);
                stream = api.StreamCreate((nuint)Math.Min(data.Length, 1 << 20), 1);
                if (stream == IntPtr.Zero)
                    throw new CodecException("OpenJPEG could not create a stream");
                api.StreamSetRead(stream, &Read);
                api.StreamSetSkip(stream, &Skip);
                api.StreamSetSeek(stream, &Seek);
                api.StreamSetUserData(stream, (IntPtr)source, IntPtr.Zero);
                api.StreamSetUserDataLength(stream, (ulong)data.Length);
                if (api.ReadHeader(stream, codec, &image) == 0 || image is null)
                    throw Fail("cannot read the JPEG 2000 header", errors);
                var width = (long)image->X1 - image->X0;
                var height = (long)image->Y1 - image->Y0;
                if (width <= 0 || height <= 0 || width * height > maxPixels)
                    throw new CodecException($"the JPEG 2000 image declares {width}x{height}, outside 1 to {maxPixels} pixels");
                if (expected is { } e && (e.Width != width || e.Height != height))
                    throw new CodecException($"the compressed frame is {width}x{height} but Columns x Rows say {e.Width}x{e.Height}");
                if (image->NumComps is 0 or > 4)
                    throw new CodecException($"the JPEG 2000 image has {image->NumComps} components");
                if (api.Decode(codec, stream, image) == 0)
                    throw Fail("the JPEG 2000 data cannot be decoded", errors);
                if (api.EndDecompress(codec, stream) == 0)
                    throw Fail("the JPEG 2000 data ends badly", errors);
                return Collect(image, (int)width, (int)height);
            }
        }
        finally
        {
            if (image is not null)
                api.ImageDestroy(image);
            if (stream != IntPtr.Zero)
                api.StreamDestroy(stream);
            if (codec != IntPtr.Zero)
                api.DestroyCodec(codec);
            NativeMemory.Free(parameters);
            NativeMemory.Free(source);
            errorHandle.Free();
        }
    }

    private static CodecException Fail(string what, List<string> errors) =>
        new(errors.Count == 0 ? what : $"{what} (OpenJPEG: {string.Join("; ", errors.Select(e => e.Trim()).Distinct())})");

    private static DecodedFrame Collect(Image* image, int width, int height)
    {
        var n = (int)image->NumComps;
        var prec = (int)image->Comps[0].Prec;
        var signed = image->Comps[0].Sgnd != 0;
        var output = new int[checked(width * height * n)];
        for (var c = 0; c < n; c++)
        {
            var comp = image->Comps[c];
            if (comp.Dx != 1 || comp.Dy != 1 || comp.W != width || comp.H != height)
                throw new CodecException($"JPEG 2000 component {c} is subsampled ({comp.Dx}x{comp.Dy}), which DICOM does not use and this reader does not support");
            if (comp.Data is null)
                throw new CodecException($"JPEG 2000 component {c} was not decoded");
            for (var i = 0; i < width * height; i++)
                output[i * n + c] = comp.Data[i];
        }
        return new DecodedFrame(width, height, n, prec, signed, output);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nuint Read(void* buffer, nuint count, void* user)
    {
        var s = (Source*)user;
        var left = s->Length - s->Position;
        if (left <= 0)
            return unchecked((nuint)(-1));
        var n = (long)Math.Min((ulong)left, count);
        Buffer.MemoryCopy(s->Data + s->Position, buffer, (long)count, n);
        s->Position += n;
        return (nuint)n;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static long Skip(long count, void* user)
    {
        var s = (Source*)user;
        var target = Math.Clamp(s->Position + count, 0, s->Length);
        var moved = target - s->Position;
        s->Position = target;
        return moved == 0 && count != 0 ? -1 : moved;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Seek(long offset, void* user)
    {
        var s = (Source*)user;
        if (offset < 0 || offset > s->Length)
            return 0;
        s->Position = offset;
        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(byte* message, void* user)
    {
        var s = (Source*)user;
        if (GCHandle.FromIntPtr(s->Error).Target is List<string> list && list.Count < 8)
            list.Add(Marshal.PtrToStringUTF8((IntPtr)message) ?? string.Empty);
    }

    private static Api? Load()
    {
        var f = NativeExports.Load(NativeExports.OpenJpeg,
            "opj_create_decompress", "opj_set_default_decoder_parameters", "opj_setup_decoder", "opj_set_error_handler",
            "opj_stream_create", "opj_stream_set_read_function", "opj_stream_set_skip_function", "opj_stream_set_seek_function",
            "opj_stream_set_user_data", "opj_stream_set_user_data_length", "opj_read_header", "opj_decode",
            "opj_end_decompress", "opj_image_destroy", "opj_stream_destroy", "opj_destroy_codec");
        return f is null ? null : new Api(f);
    }

    private sealed class Api(IntPtr[] f)
    {
        private readonly delegate* unmanaged[Cdecl]<int, IntPtr> createDecompress = (delegate* unmanaged[Cdecl]<int, IntPtr>)f[0];
        private readonly delegate* unmanaged[Cdecl]<void*, void> setDefaults = (delegate* unmanaged[Cdecl]<void*, void>)f[1];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void*, int> setupDecoder = (delegate* unmanaged[Cdecl]<IntPtr, void*, int>)f[2];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<byte*, void*, void>, IntPtr, int> setErrorHandler = (delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<byte*, void*, void>, IntPtr, int>)f[3];
        private readonly delegate* unmanaged[Cdecl]<nuint, int, IntPtr> streamCreate = (delegate* unmanaged[Cdecl]<nuint, int, IntPtr>)f[4];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<void*, nuint, void*, nuint>, void> setRead = (delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<void*, nuint, void*, nuint>, void>)f[5];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<long, void*, long>, void> setSkip = (delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<long, void*, long>, void>)f[6];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<long, void*, int>, void> setSeek = (delegate* unmanaged[Cdecl]<IntPtr, delegate* unmanaged[Cdecl]<long, void*, int>, void>)f[7];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, void> setUserData = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, void>)f[8];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, ulong, void> setUserDataLength = (delegate* unmanaged[Cdecl]<IntPtr, ulong, void>)f[9];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, Image**, int> readHeader = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, Image**, int>)f[10];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, Image*, int> decode = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, Image*, int>)f[11];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int> endDecompress = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int>)f[12];
        private readonly delegate* unmanaged[Cdecl]<Image*, void> imageDestroy = (delegate* unmanaged[Cdecl]<Image*, void>)f[13];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void> streamDestroy = (delegate* unmanaged[Cdecl]<IntPtr, void>)f[14];
        private readonly delegate* unmanaged[Cdecl]<IntPtr, void> destroyCodec = (delegate* unmanaged[Cdecl]<IntPtr, void>)f[15];

        public IntPtr CreateDecompress(int format) => createDecompress(format);

        public void SetDefaultParameters(void* p) => setDefaults(p);

        public int SetupDecoder(IntPtr codec, void* p) => setupDecoder(codec, p);

        public int SetErrorHandler(IntPtr codec, delegate* unmanaged[Cdecl]<byte*, void*, void> handler, IntPtr user) => setErrorHandler(codec, handler, user);

        public IntPtr StreamCreate(nuint size, int input) => streamCreate(size, input);

        public void StreamSetRead(IntPtr s, delegate* unmanaged[Cdecl]<void*, nuint, void*, nuint> fn) => setRead(s, fn);

        public void StreamSetSkip(IntPtr s, delegate* unmanaged[Cdecl]<long, void*, long> fn) => setSkip(s, fn);

        public void StreamSetSeek(IntPtr s, delegate* unmanaged[Cdecl]<long, void*, int> fn) => setSeek(s, fn);

        public void StreamSetUserData(IntPtr s, IntPtr data, IntPtr free) => setUserData(s, data, free);

        public void StreamSetUserDataLength(IntPtr s, ulong length) => setUserDataLength(s, length);

        public int ReadHeader(IntPtr s, IntPtr codec, Image** image) => readHeader(s, codec, image);

        public int Decode(IntPtr codec, IntPtr s, Image* image) => decode(codec, s, image);

        public int EndDecompress(IntPtr codec, IntPtr s) => endDecompress(codec, s);

        public void ImageDestroy(Image* image) => imageDestroy(image);

        public void StreamDestroy(IntPtr s) => streamDestroy(s);

        public void DestroyCodec(IntPtr codec) => destroyCodec(codec);
    }
}
