using System.Buffers.Binary;
using System.IO.Compression;
using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Sources;

/// <summary>
/// MNIST-style IDX files (images <c>idx3-ubyte</c> + labels <c>idx1-ubyte</c>, gzipped or not), held in memory as bytes.
/// Loading an item is one pass over H×W bytes into a float array: no tensors, no decoding.
/// </summary>
public sealed class IdxDataset : IImageDataset
{
    /// <summary>Fashion-MNIST's class names in label order.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] pixels;
    private readonly byte[] labelBytes;
    private readonly int[][] labelArrays;

    public IdxDataset(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        ImagesPath = imagesPath;
        var img = ReadAll(imagesPath);
        var lab = ReadAll(labelsPath);
        if (img.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(img) != 0x00000803)
            throw new InvalidDataException($"'{imagesPath}' is not an IDX image file (magic 0x00000803 expected).");
        if (lab.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(lab) != 0x00000801)
            throw new InvalidDataException($"'{labelsPath}' is not an IDX label file (magic 0x00000801 expected).");
        var n = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(4));
        Height = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(8));
        Width = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(12));
        var nl = BinaryPrimitives.ReadInt32BigEndian(lab.AsSpan(4));
        if (n < 0 || Height <= 0 || Width <= 0 || img.Length - 16L != (long)n * Height * Width)
            throw new InvalidDataException($"'{imagesPath}' declares {n} images of {Height}x{Width} but holds {img.Length - 16} pixel bytes (truncated or corrupt).");
        if (nl != n || lab.Length - 8 != nl)
            throw new InvalidDataException($"'{labelsPath}' declares {nl} labels and holds {lab.Length - 8}, for {n} images in '{imagesPath}'.");
        pixels = img;
        labelBytes = lab;
        var maxLabel = n == 0 ? 0 : lab.AsSpan(8).ToArray().Max();
        Classes = new ClassMap(classNames ?? Enumerable.Range(0, maxLabel + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (maxLabel >= Classes.Count)
            throw new InvalidDataException($"'{labelsPath}' has label {maxLabel}, beyond the {Classes.Count} class names.");
        labelArrays = new int[Classes.Count][];
        for (var i = 0; i < labelArrays.Length; i++)
            labelArrays[i] = [i];
        Count = n;
    }

    public string ImagesPath { get; }

    public int Height { get; }

    public int Width { get; }

    public int Count { get; }

    public ClassMap Classes { get; }

    public bool IsMultiLabel => false;

    public string NameOf(int index) => $"{ImagesPath}#{index}";

    public string? GroupOf(int index) => null;

    public IReadOnlyList<int> LabelsOf(int index) => labelArrays[Label(index)];

    public int Label(int index) => labelBytes[8 + index];

    /// <summary>The raw bytes of one image, row-major [H,W].</summary>
    public ReadOnlySpan<byte> Pixels(int index) => pixels.AsSpan(16 + index * Height * Width, Height * Width);

    public ImageBuffer Load(int index, DecodeOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count);
        var src = Pixels(index);
        var data = new float[src.Length];
        const float inv = 1f / 255f;
        for (var i = 0; i < data.Length; i++)
            data[i] = src[i] * inv;
        return new ImageBuffer(1, Height, Width, data);
    }

    /// <summary>
    /// The folder that holds Fashion-MNIST: the given one, else <c>/usr/share/datasets/fashion-mnist</c> (Debian's
    /// dataset-fashion-mnist package), else <c>~/.cache/rwkv/fashion-mnist</c>; null when none has the files.
    /// </summary>
    public static string? FindFashionMnist(string? preferred = null)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string?[] candidates = [preferred, "/usr/share/datasets/fashion-mnist", Path.Combine(home, ".cache", "rwkv", "fashion-mnist")];
        foreach (var dir in candidates)
        {
            if (dir is not null && FindFile(dir, "train-images-idx3-ubyte") is not null)
                return dir;
        }
        return null;
    }

    /// <summary>Fashion-MNIST's train (60000) or test (10000) split from <paramref name="directory"/> or the default places.</summary>
    public static IdxDataset FashionMnist(bool train, string? directory = null)
    {
        var dir = FindFashionMnist(directory)
            ?? throw new FileNotFoundException("Fashion-MNIST not found: looked in " + (directory is null ? "" : $"'{directory}', ")
                + "/usr/share/datasets/fashion-mnist (apt install dataset-fashion-mnist) and ~/.cache/rwkv/fashion-mnist.");
        var prefix = train ? "train" : "t10k";
        var images = FindFile(dir, $"{prefix}-images-idx3-ubyte") ?? throw new FileNotFoundException($"No {prefix}-images-idx3-ubyte[.gz] in '{dir}'.");
        var labels = FindFile(dir, $"{prefix}-labels-idx1-ubyte") ?? throw new FileNotFoundException($"No {prefix}-labels-idx1-ubyte[.gz] in '{dir}'.");
        return new IdxDataset(images, labels, FashionMnistClasses);
    }

    private static string? FindFile(string dir, string stem)
    {
        foreach (var name in new[] { stem, stem + ".gz" })
        {
            var p = Path.Combine(dir, name);
            if (File.Exists(p))
                return p;
        }
        return null;
    }

    /// <summary>The file's bytes, gunzipped when it starts with the gzip magic (1f 8b).</summary>
    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
            return raw;
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is a corrupt or truncated gzip file: {e.Message}", e);
        }
    }
}
