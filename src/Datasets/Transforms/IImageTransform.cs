using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Transforms;

/// <summary>
/// One per-sample step on a [C,H,W] float buffer. It may modify and return its input or return a new buffer; all
/// randomness comes from the generator passed in, so a step is a pure function of (image, generator state).
/// </summary>
public interface IImageTransform
{
    ImageBuffer Apply(ImageBuffer image, SeededRng rng);
}
