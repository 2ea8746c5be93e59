using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Sources;

/// <summary>
/// timm/torchvision ImageFolder: every image under <c>root</c> (recursively) whose containing folder's name is its class
/// ("leaf folder = class"). Files are ordered by relative path (ordinal) and classes are sorted, so ids are stable.
/// Images directly in the root have no class and are left out (listed in <see cref="Ignored"/>).
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private readonly string[] paths;
    private readonly int[][] labels;
    private readonly Lazy<string?>[] patientIds;

    public ImageFolderDataset(string root, ClassMap? classes = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        Root = Path.GetFullPath(root);
        var files = Directory.EnumerateFiles(Root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(f => ImageDecoder.Extensions.Contains(Path.GetExtension(f)))
            .Select(f => Path.GetRelativePath(Root, f))
            .Order(StringComparer.Ordinal)
            .ToList();
        var ignored = files.Where(f => Path.GetDirectoryName(f) is null or "").ToList();
        files.RemoveAll(f => Path.GetDirectoryName(f) is null or "");
        Ignored = ignored;
        if (files.Count == 0)
            throw new InvalidDataException($"Image folder '{root}' has no images in class subfolders ({string.Join(", ", ImageDecoder.Extensions)}).");
        static string ClassOf(string rel) => Path.GetFileName(Path.GetDirectoryName(rel)!);
        Classes = classes ?? ClassMap.FromNames(files.Select(ClassOf));
        paths = new string[files.Count];
        labels = new int[files.Count][];
        for (var i = 0; i < files.Count; i++)
        {
            paths[i] = Path.Combine(Root, files[i]);
            var name = ClassOf(files[i]);
            if (!Classes.TryIndexOf(name, out var id))
                throw new InvalidDataException($"Image '{paths[i]}' is in folder '{name}', which is not in the given class map.");
            labels[i] = [id];
        }
        patientIds = paths.Select(p => new Lazy<string?>(() => DicomGroups.PatientIdOf(p))).ToArray();
    }

    public string Root { get; }

    public IReadOnlyList<string> Ignored { get; }

    public int Count => paths.Length;

    public ClassMap Classes { get; }

    public bool IsMultiLabel => false;

    public string NameOf(int index) => paths[index];

    /// <summary>The Patient ID of a DICOM file (header read once, on first use); null for other images.</summary>
    public string? GroupOf(int index) => patientIds[index].Value;

    public IReadOnlyList<int> LabelsOf(int index) => labels[index];

    public ImageBuffer Load(int index, DecodeOptions options) => ImageDecoder.Decode(paths[index], options);
}
