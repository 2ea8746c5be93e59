using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Detection;

/// <summary>
/// An indexed collection of images with labelled boxes. Implementations are safe to call from several threads at once
/// (the loader's workers call <see cref="Load"/> concurrently).
/// </summary>
public interface IDetectionDataset
{
    int Count { get; }

    /// <summary>Class names by label (labels are 0-based and contiguous).</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>What errors and skip records call the item (its file path).</summary>
    string NameOf(int index);

    /// <summary>The COCO image id of the item (what results files and evaluation refer to).</summary>
    long ImageIdOf(int index);

    /// <summary>The COCO category id of a label.</summary>
    long CategoryIdOf(int label);

    /// <summary>The item's objects in its original pixel coordinates (crowd regions included, flagged).</summary>
    IReadOnlyList<DetectionObject> ObjectsOf(int index);

    /// <summary>Decodes the item; throws <see cref="ImageDecodeException"/> naming the file on failure.</summary>
    ImageBuffer Load(int index, DecodeOptions options);

    /// <summary>The ground truth as a COCO data set (for evaluation), with the same image ids and category ids.</summary>
    CocoDataset ToCoco();
}

/// <summary>A COCO JSON file and the folder its <c>file_name</c>s are relative to.</summary>
public sealed class CocoDetectionDataset : IDetectionDataset
{
    private readonly CocoImage[] images;
    private readonly DetectionObject[][] objects;
    private readonly long[] categoryIds;

    public CocoDetectionDataset(CocoDataset coco, string imagesDirectory, string? annotationsPath = null)
    {
        ArgumentNullException.ThrowIfNull(coco);
        ArgumentNullException.ThrowIfNull(imagesDirectory);
        Coco = coco;
        ImagesDirectory = imagesDirectory;
        AnnotationsPath = annotationsPath;
        // Labels follow sorted category ids, so they do not depend on the order of the 'categories' list.
        var cats = coco.Categories.OrderBy(c => c.Id).ToArray();
        categoryIds = [.. cats.Select(c => c.Id)];
        ClassNames = [.. cats.Select(c => c.Name)];
        var label = new Dictionary<long, int>();
        for (var i = 0; i < categoryIds.Length; i++)
            label[categoryIds[i]] = i;
        images = [.. coco.Images];
        var byImage = coco.AnnotationsByImage();
        objects = new DetectionObject[images.Length][];
        for (var i = 0; i < images.Length; i++)
        {
            objects[i] = [.. byImage[images[i].Id].Where(a => label.ContainsKey(a.CategoryId))
                .Select(a => new DetectionObject(a.Bbox.ToBox(), label[a.CategoryId], a.IsCrowd))];
        }
    }

    /// <summary>Reads <paramref name="annotationsPath"/> (COCO JSON) with images under <paramref name="imagesDirectory"/>.</summary>
    public static CocoDetectionDataset Open(string annotationsPath, string imagesDirectory) =>
        new(CocoJson.Read(annotationsPath), imagesDirectory, annotationsPath);

    public CocoDataset Coco { get; }

    public string ImagesDirectory { get; }

    /// <summary>The JSON file this set was read from, when it was read from one (what <c>coco_metrics.json</c> cites).</summary>
    public string? AnnotationsPath { get; }

    public int Count => images.Length;

    public IReadOnlyList<string> ClassNames { get; }

    public string NameOf(int index) => Path.Combine(ImagesDirectory, images[index].FileName);

    public long ImageIdOf(int index) => images[index].Id;

    public long CategoryIdOf(int label) => categoryIds[label];

    public CocoImage ImageInfo(int index) => images[index];

    public IReadOnlyList<DetectionObject> ObjectsOf(int index) => objects[index];

    public ImageBuffer Load(int index, DecodeOptions options)
    {
        var info = images[index];
        var path = NameOf(index);
        // Boxes refer to the full-size image, so no reduced-size decoding here.
        var img = ImageDecoder.Decode(path, options with { MinShorterSide = 0 });
        if (info.Width > 0 && info.Height > 0 && (img.Width != info.Width || img.Height != info.Height))
            throw new ImageDecodeException(path, $"decoded {img.Width}x{img.Height}, but the annotations say {info.Width}x{info.Height}");
        return img;
    }

    public CocoDataset ToCoco() => Coco;
}

/// <summary>
/// Unlabelled image files to detect objects in (what <c>rwkv detect predict</c> reads): image ids 1..N in the given
/// order, the categories of the model that will look at them, no objects.
/// </summary>
public sealed class ImageFilesDetectionDataset(IReadOnlyList<string> files, IReadOnlyList<CocoCategory> categories) : IDetectionDataset
{
    private readonly IReadOnlyList<string> files = files ?? throw new ArgumentNullException(nameof(files));
    private readonly IReadOnlyList<CocoCategory> categories = categories ?? throw new ArgumentNullException(nameof(categories));

    public int Count => files.Count;

    public IReadOnlyList<string> ClassNames => [.. categories.Select(c => c.Name)];

    public string NameOf(int index) => files[index];

    public long ImageIdOf(int index) => index + 1;

    public long CategoryIdOf(int label) => categories[label].Id;

    public IReadOnlyList<DetectionObject> ObjectsOf(int index) => [];

    public ImageBuffer Load(int index, DecodeOptions options) => ImageDecoder.Decode(files[index], options with { MinShorterSide = 0 });

    public CocoDataset ToCoco() => new(
        [.. files.Select((f, i) => new CocoImage(i + 1, Path.GetFileName(f), 0, 0))], categories, []);
}
