namespace VisionRwkv.Datasets.Imaging;

/// <summary>
/// One decoding library behind <see cref="ImageDecoder"/>. A codec refuses decompression bombs before it allocates
/// pixel memory, applies nothing the caller did not ask for, and reports every failure as an
/// <see cref="ImageDecodeException"/> with its category; it never lets a library's own exception escape.
/// </summary>
internal interface IImageCodec
{
    /// <summary>Short name recorded with each decoded image (skia, turbojpeg, imagesharp, png16).</summary>
    string Name { get; }

    /// <summary>Decodes <paramref name="data"/>, already known to be <paramref name="format"/>; orientation is not applied yet.</summary>
    DecodedImage Decode(byte[] data, string name, FileFormat format, DecodeOptions options);
}
