using System.Globalization;
using System.Text;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Detection;

/// <summary>
/// The YOLO txt layout: <c>images/&lt;split&gt;/x.png</c> with <c>labels/&lt;split&gt;/x.txt</c> beside it, one object a line as
/// <c>class cx cy w h</c>, normalised to the image size. An image without a label file has no objects. Class names come
/// from <c>classes.txt</c> (one a line) at the root, or are "0", "1", … . Image ids are 1..N in sorted path order and
/// category ids are label + 1, which is how <see cref="ToCoco"/> presents the set for evaluation.
/// </summary>
public sealed class YoloDetectionDataset : IDetectionDataset
{
    private readonly string[] files;
    private readonly (int Width, int Height)[] sizes;
    private readonly DetectionObject[][] objects;

    public YoloDetectionDataset(string imagesDirectory, string labelsDirectory, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(imagesDirectory);
        ArgumentNullException.ThrowIfNull(labelsDirectory);
        if (!Directory.Exists(imagesDirectory))
            throw new DirectoryNotFoundException($"YOLO images folder '{imagesDirectory}' does not exist.");
        ImagesDirectory = imagesDirectory;
        LabelsDirectory = labelsDirectory;
        files = [.. Directory.EnumerateFiles(imagesDirectory, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal)];
        sizes = new (int, int)[files.Length];
        objects = new DetectionObject[files.Length][];
        var maxLabel = -1;
        for (var i = 0; i < files.Length; i++)
        {
            var header = ImageDecoder.ReadHeader(files[i]);
            // EXIF orientations 5-8 swap width and height once applied, and Load applies them.
            sizes[i] = header.Orientation >= 5 ? (header.Height, header.Width) : (header.Width, header.Height);
            objects[i] = ReadLabels(LabelPathOf(files[i]), sizes[i].Width, sizes[i].Height, classNames?.Count, ref maxLabel);
        }
        ClassNames = classNames ?? [.. Enumerable.Range(0, maxLabel + 1).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    /// <summary><c>root/images/split</c> and <c>root/labels/split</c>, class names from <c>root/classes.txt</c> when present.</summary>
    public static YoloDetectionDataset Open(string root, string split)
    {
        ArgumentNullException.ThrowIfNull(root);
        var classesFile = Path.Combine(root, "classes.txt");
        IReadOnlyList<string>? names = File.Exists(classesFile)
            ? [.. File.ReadAllLines(classesFile).Select(l => l.Trim()).Where(l => l.Length > 0)]
            : null;
        return new YoloDetectionDataset(Path.Combine(root, "images", split), Path.Combine(root, "labels", split), names);
    }

    public string ImagesDirectory { get; }

    public string LabelsDirectory { get; }

    public int Count => files.Length;

    public IReadOnlyList<string> ClassNames { get; }

    public string NameOf(int index) => files[index];

    public long ImageIdOf(int index) => index + 1;

    public long CategoryIdOf(int label) => label + 1;

    public IReadOnlyList<DetectionObject> ObjectsOf(int index) => objects[index];

    public ImageBuffer Load(int index, DecodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var img = ImageDecoder.Decode(files[index], options with { MinShorterSide = 0 });
        if ((img.Width, img.Height) != sizes[index])
            throw new ImageDecodeException(files[index], $"decoded {img.Width}x{img.Height}, but its header said {sizes[index].Width}x{sizes[index].Height}");
        return img;
    }

    public CocoDataset ToCoco()
    {
        var images = new List<CocoImage>();
        var anns = new List<CocoAnnotation>();
        for (var i = 0; i < files.Length; i++)
        {
            images.Add(new CocoImage(ImageIdOf(i), Path.GetRelativePath(ImagesDirectory, files[i]), sizes[i].Width, sizes[i].Height));
            foreach (var o in objects[i])
                anns.Add(new CocoAnnotation(anns.Count + 1, ImageIdOf(i), CategoryIdOf(o.Label), CocoBox.From(o.Box), o.Box.Area, o.IsCrowd));
        }
        var cats = ClassNames.Select((n, k) => new CocoCategory(CategoryIdOf(k), n)).ToList();
        return new CocoDataset(images, cats, anns);
    }

    private string LabelPathOf(string imagePath) =>
        Path.ChangeExtension(Path.Combine(LabelsDirectory, Path.GetRelativePath(ImagesDirectory, imagePath)), ".txt");

    private static DetectionObject[] ReadLabels(string path, int width, int height, int? classCount, ref int maxLabel)
    {
        if (!File.Exists(path))
            return [];
        var result = new List<DetectionObject>();
        var lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0)
                continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 5)
                throw new InvalidDataException($"'{path}' line {lineNo}: expected 'class cx cy w h', got '{Clip(line)}'.");
            if (!int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var label) || label < 0)
                throw new InvalidDataException($"'{path}' line {lineNo}: class '{Clip(parts[0])}' is not a non-negative integer.");
            if (classCount is { } n && label >= n)
                throw new InvalidDataException($"'{path}' line {lineNo}: class {label} is beyond the {n} class names.");
            var v = new double[4];
            for (var j = 0; j < 4; j++)
            {
                if (!double.TryParse(parts[j + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out v[j]) || !double.IsFinite(v[j]))
                    throw new InvalidDataException($"'{path}' line {lineNo}: '{Clip(parts[j + 1])}' is not a number.");
            }
            if (v[2] <= 0 || v[3] <= 0)
                throw new InvalidDataException($"'{path}' line {lineNo}: width and height must be positive, got {parts[3]} {parts[4]}.");
            maxLabel = Math.Max(maxLabel, label);
            result.Add(new DetectionObject(BoundingBox.FromNormalizedCxcywh(v[0], v[1], v[2], v[3], width, height), label));
        }
        return [.. result];
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..60] + "…";

    /// <summary>
    /// Writes <paramref name="dataset"/> in the YOLO layout under <paramref name="root"/> (images copied as they are,
    /// labels as txt, class names as classes.txt), for split <paramref name="split"/>. Crowd regions cannot be expressed
    /// in YOLO txt and are left out. Refuses to overwrite an existing label file.
    /// </summary>
    public static void Write(CocoDetectionDataset dataset, string root, string split)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(root);
        var imagesDir = Path.Combine(root, "images", split);
        var labelsDir = Path.Combine(root, "labels", split);
        Directory.CreateDirectory(imagesDir);
        Directory.CreateDirectory(labelsDir);
        var classesFile = Path.Combine(root, "classes.txt");
        var classes = string.Join('\n', dataset.ClassNames) + "\n";
        if (File.Exists(classesFile) && File.ReadAllText(classesFile) != classes)
            throw new IOException($"'{classesFile}' exists with other class names; not overwriting it.");
        AtomicFile.WriteText(classesFile, classes);
        for (var i = 0; i < dataset.Count; i++)
        {
            var info = dataset.ImageInfo(i);
            var rel = info.FileName;
            var labelPath = Path.ChangeExtension(Path.Combine(labelsDir, rel), ".txt");
            if (File.Exists(labelPath))
                throw new IOException($"'{labelPath}' already exists; not overwriting it.");
            var dst = Path.Combine(imagesDir, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            Directory.CreateDirectory(Path.GetDirectoryName(labelPath)!);
            if (!File.Exists(dst))
                AtomicFile.Copy(dataset.NameOf(i), dst);
            var sb = new StringBuilder();
            foreach (var o in dataset.ObjectsOf(i).Where(o => !o.IsCrowd))
            {
                var (cx, cy, w, h) = o.Box.ToNormalizedCxcywh(info.Width, info.Height);
                sb.Append(CultureInfo.InvariantCulture, $"{o.Label} {cx:R} {cy:R} {w:R} {h:R}\n");
            }
            AtomicFile.WriteText(labelPath, sb.ToString());
        }
    }
}
