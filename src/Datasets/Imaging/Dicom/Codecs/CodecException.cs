namespace VisionRwkv.Datasets.Imaging.Dicom.Codecs;

/// <summary>A compressed frame that cannot be decoded; the pixel decoder adds the file name and frame.</summary>
internal sealed class CodecException : Exception
{
    public CodecException()
    {
    }

    public CodecException(string message)
        : base(message)
    {
    }

    public CodecException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>One decoded frame: samples interleaved by pixel ([H,W,C]), as signed or unsigned integers of <see cref="Precision"/> bits.</summary>
internal sealed class DecodedFrame(int width, int height, int components, int precision, bool signed, int[] samples)
{
    public int Width { get; } = width;

    public int Height { get; } = height;

    public int Components { get; } = components;

    public int Precision { get; } = precision;

    public bool Signed { get; } = signed;

    public int[] Samples { get; } = samples;
}
