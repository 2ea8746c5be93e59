using System.Security.Cryptography;
using System.Text;

namespace VisionRwkv.Datasets.Detection;

/// <summary>The splits of a detection data set; validation picks the best epoch, test is scored once at the end.</summary>
public sealed record DetectionSplits(IDetectionDataset Train, IDetectionDataset? Validation, IDetectionDataset? Test, string Description)
{
    /// <summary>A split by name: train, val (validation) or test (falls back to validation).</summary>
    public IDetectionDataset Get(string split) => split switch
    {
        "train" => Train,
        "val" or "validation" => Validation ?? throw new InvalidOperationException("the data has no validation split"),
        "test" => Test ?? Validation ?? throw new InvalidOperationException("the data has neither a test nor a validation split"),
        _ => throw new ArgumentException($"split must be train, val or test, got '{split}'"),
    };
}

/// <summary>
/// Opens detection data from a spec: <c>synthetic[:DIR]</c> (the Fashion-MNIST detection set, generated on first use,
/// by default under ~/.cache/rwkv/detect-synthetic/), <c>coco:DIR</c> (DIR/annotations/{train,val,test}.json, or
/// COCO's instances_{split}2017.json, with images in DIR/images/{split} or DIR/{split}2017) or <c>yolo:DIR</c>
/// (DIR/images/{split} and DIR/labels/{split}, classes.txt).
/// </summary>
public static class DetectionSources
{
    public static DetectionSplits Open(string spec, SyntheticDetectionOptions? synthetic = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var (kind, arg) = spec.IndexOf(':', StringComparison.Ordinal) is var i and > 0 ? (spec[..i], spec[(i + 1)..]) : (spec, "");
        switch (kind.ToLowerInvariant())
        {
            case "synthetic":
            {
                var options = synthetic ?? new SyntheticDetectionOptions();
                var root = arg.Length > 0 ? arg : DefaultSyntheticRoot(options);
                var set = SyntheticDetectionSet.Generate(root, options);
                return new DetectionSplits(set.Open("train"), set.Open("val"), set.Open("test"),
                    $"synthetic Fashion-MNIST detection set {root} ({options.TrainImages}/{options.ValImages}/{options.TestImages} images)");
            }
            case "coco":
            {
                if (!Directory.Exists(arg))
                    throw new DirectoryNotFoundException($"data '{spec}': no folder '{arg}'");
                var train = OpenCoco(arg, "train") ?? throw new FileNotFoundException($"data '{spec}': no annotations/train.json or annotations/instances_train*.json under {arg}");
                return new DetectionSplits(train, OpenCoco(arg, "val"), OpenCoco(arg, "test"), $"COCO {arg}");
            }
            case "yolo":
            {
                if (!Directory.Exists(Path.Combine(arg, "images", "train")))
                    throw new DirectoryNotFoundException($"data '{spec}': no folder images/train under '{arg}'");
                IDetectionDataset? Split(string s) => Directory.Exists(Path.Combine(arg, "images", s)) ? YoloDetectionDataset.Open(arg, s) : null;
                return new DetectionSplits(Split("train")!, Split("val"), Split("test"), $"YOLO {arg}");
            }
            default:
                throw new ArgumentException($"data '{spec}': expected synthetic[:DIR], coco:DIR or yolo:DIR");
        }
    }

    /// <summary>~/.cache/rwkv/detect-synthetic/&lt;hash of the settings&gt;: other settings never collide with a cached set.</summary>
    public static string DefaultSyntheticRoot(SyntheticDetectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(options.ToString())))[..10];
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rwkv", "detect-synthetic", hash);
    }

    private static CocoDetectionDataset? OpenCoco(string root, string split)
    {
        var ann = Path.Combine(root, "annotations");
        string? json = File.Exists(Path.Combine(ann, split + ".json")) ? Path.Combine(ann, split + ".json")
            : Directory.Exists(ann) ? Directory.EnumerateFiles(ann, $"instances_{split}*.json").Order(StringComparer.Ordinal).FirstOrDefault() : null;
        if (json is null)
            return null;
        string[] folders = [Path.Combine(root, "images", split), .. Directory.EnumerateDirectories(root, split + "*").Order(StringComparer.Ordinal), Path.Combine(root, "images")];
        var images = folders.FirstOrDefault(Directory.Exists)
            ?? throw new DirectoryNotFoundException($"{json}: no image folder images/{split} or {split}* under {root}");
        return CocoDetectionDataset.Open(json, images);
    }
}
