using VisionRwkv.Common;
using VisionRwkv.Datasets;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Transforms;

namespace VisionRwkv.Explain;

/// <summary>
/// One image decoded at full size and preprocessed with the model's eval transform, with the geometry that maps a
/// model-input pixel back to the original image (the resize and centre crop of <see cref="ImagePipeline.Eval"/>).
/// </summary>
public sealed class PreparedImage
{
    private readonly double _scaleX, _scaleY;
    private readonly int _left, _top;

    private PreparedImage(ImageBuffer input, int originalHeight, int originalWidth, double scaleX, double scaleY, int left, int top)
    {
        Input = input;
        OriginalHeight = originalHeight;
        OriginalWidth = originalWidth;
        (_scaleX, _scaleY, _left, _top) = (scaleX, scaleY, left, top);
    }

    /// <summary>The model input, [C,H,W] normalised.</summary>
    public ImageBuffer Input { get; }

    public int OriginalHeight { get; }

    public int OriginalWidth { get; }

    /// <summary>Decodes <paramref name="path"/> (no reduced-size decoding, so pixels are the original's) and preprocesses it.</summary>
    public static PreparedImage Load(string path, DataConfig data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var original = ImageDecoder.Decode(path, DecodeOptions.Default);
        var input = ImagePipeline.Eval(data, DecodeOptions.Default).Apply(original, new SeededRng(0));
        // The geometry of ResizeCenterCrop, as ImagePipeline.Eval builds it.
        int resizeH = (int)Math.Floor(data.Height / data.CropPct), resizeW = (int)Math.Floor(data.Width / data.CropPct);
        int h, w;
        if (data.Height == data.Width)
            (h, w) = original.Height <= original.Width
                ? (resizeH, (int)((long)resizeH * original.Width / original.Height))
                : ((int)((long)resizeH * original.Height / original.Width), resizeH);
        else
            (h, w) = (resizeH, resizeW);
        int top = (int)Math.Round((h - data.Height) / 2.0, MidpointRounding.ToEven);
        int left = (int)Math.Round((w - data.Width) / 2.0, MidpointRounding.ToEven);
        return new PreparedImage(input, original.Height, original.Width, (double)original.Width / w, (double)original.Height / h, left, top);
    }

    /// <summary>
    /// The original-image pixel under model-input pixel (y, x) (its centre mapped through the crop and resize);
    /// null where the crop padded beyond the image.
    /// </summary>
    public (int Y, int X)? ToOriginal(int y, int x)
    {
        double ox = (x + _left + 0.5) * _scaleX, oy = (y + _top + 0.5) * _scaleY;
        int px = (int)Math.Floor(ox), py = (int)Math.Floor(oy);
        if (px < 0 || py < 0 || px >= OriginalWidth || py >= OriginalHeight) return null;
        return (py, px);
    }
}
