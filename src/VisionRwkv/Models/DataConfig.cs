namespace VisionRwkv.Models;

/// <summary>
/// The preprocessing a model expects, carried by every preset (as timm's pretrained_cfg): input size, channels,
/// normalisation and the eval crop. The data pipeline reads it to build train and eval transforms.
/// </summary>
/// <param name="InChannels">1 for grayscale (X-rays, Fashion-MNIST), 3 for RGB.</param>
/// <param name="Height">Native input height in pixels.</param>
/// <param name="Width">Native input width in pixels.</param>
/// <param name="Mean">Per-channel mean of pixels scaled to [0,1].</param>
/// <param name="Std">Per-channel standard deviation of pixels scaled to [0,1].</param>
/// <param name="Interpolation">"bicubic" or "bilinear" for resizing.</param>
/// <param name="CropPct">Eval: resize the shorter side to size/CropPct, then center-crop size (1 = no crop margin).</param>
public sealed record DataConfig(
    int InChannels,
    int Height,
    int Width,
    float[] Mean,
    float[] Std,
    string Interpolation = "bicubic",
    float CropPct = 0.875f)
{
    /// <summary>ImageNet RGB statistics (mmcls uses the same values on a 0..255 scale).</summary>
    public static DataConfig ImageNet(int size = 224) =>
        new(3, size, size, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], "bicubic", 0.875f);

    /// <summary>Fashion-MNIST: 28x28 grayscale, statistics of its training set.</summary>
    public static DataConfig FashionMnist() =>
        new(1, 28, 28, [0.2860f], [0.3530f], "bilinear", 1.0f);

    /// <summary>CIFAR-style 32x32 RGB.</summary>
    public static DataConfig Cifar() =>
        new(3, 32, 32, [0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f], "bilinear", 1.0f);
}
