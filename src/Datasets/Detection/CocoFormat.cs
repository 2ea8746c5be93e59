namespace VisionRwkv.Datasets.Detection;

/// <summary>An entry of a COCO file's <c>images</c>.</summary>
public sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>An entry of a COCO file's <c>categories</c>.</summary>
public sealed record CocoCategory(long Id, string Name, string? Supercategory = null);

/// <summary>
/// An entry of a COCO file's <c>annotations</c> (boxes only; segmentations are not read). <see cref="Bbox"/> is the
/// file's <c>[x, y, w, h]</c> in pixels; <see cref="Area"/> is the file's <c>area</c> (the object's mask area in real
/// COCO, which is what the small/medium/large ranges of the evaluation use), or w·h when the file has none.
/// </summary>
public sealed record CocoAnnotation(long Id, long ImageId, long CategoryId, CocoBox Bbox, double Area, bool IsCrowd = false);

/// <summary>COCO's <c>[x, y, w, h]</c>, kept as the file's doubles so that evaluation sees exactly what pycocotools sees.</summary>
public readonly record struct CocoBox(double X, double Y, double W, double H)
{
    public BoundingBox ToBox() => BoundingBox.FromXywh(X, Y, W, H);

    public static CocoBox From(BoundingBox b)
    {
        var (x, y, w, h) = b.ToXywh();
        return new(x, y, w, h);
    }
}

/// <summary>One line of a COCO results file: a scored box for an image and category.</summary>
public sealed record CocoResult(long ImageId, long CategoryId, CocoBox Bbox, double Score);

/// <summary>A COCO detection data set: images, categories and box annotations, in file order.</summary>
public sealed record CocoDataset(IReadOnlyList<CocoImage> Images, IReadOnlyList<CocoCategory> Categories, IReadOnlyList<CocoAnnotation> Annotations)
{
    /// <summary>The annotations of each image id, in file order (images without annotations map to an empty list).</summary>
    public IReadOnlyDictionary<long, IReadOnlyList<CocoAnnotation>> AnnotationsByImage()
    {
        var map = Images.ToDictionary(i => i.Id, _ => new List<CocoAnnotation>());
        foreach (var a in Annotations)
        {
            if (map.TryGetValue(a.ImageId, out var list))
                list.Add(a);
        }
        return map.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<CocoAnnotation>)kv.Value);
    }
}
