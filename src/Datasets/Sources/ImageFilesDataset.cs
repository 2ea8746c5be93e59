using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Sources;

/// <summary>
/// Unlabelled image files (batch prediction, benchmarks): every item has label 0 of a single class "unlabelled".
/// </summary>
public sealed class ImageFilesDataset : IImageDataset
{
    private static readonly int[] Zero = [0];
    private readonly string[] paths;

    public ImageFilesDataset(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        this.paths = [.. paths];
    }

    /// <summary>Every supported image under <paramref name="root"/>, recursively, ordered by path.</summary>
    public static ImageFilesDataset Scan(string root)
    {
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Folder '{root}' does not exist.");
        return new ImageFilesDataset(Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal));
    }

    public int Count => paths.Length;

    public ClassMap Classes { get; } = new(["unlabelled"]);

    public bool IsMultiLabel => false;

    public string NameOf(int index) => paths[index];

    public string? GroupOf(int index) => null;

    public IReadOnlyList<int> LabelsOf(int index) => Zero;

    public ImageBuffer Load(int index, DecodeOptions options) => ImageDecoder.Decode(paths[index], options);
}
