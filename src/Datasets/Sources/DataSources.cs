using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Sources;

/// <summary>The splits of a data source, opened from a data spec. Validation and test may be absent.</summary>
/// <param name="Train">What the model is fitted on.</param>
/// <param name="Validation">Held out for model selection (best checkpoint); never used for fitting.</param>
/// <param name="Test">Evaluated once with the selected weights; validation stands in when it is absent.</param>
/// <param name="Description">One line saying where the data came from and how it was split.</param>
public sealed record DataSplits(IImageDataset Train, IImageDataset? Validation, IImageDataset? Test, string Description)
{
    public ClassMap Classes => Train.Classes;

    /// <summary>The split named test, val (validation) or train; throws naming the split when it is absent.</summary>
    public IImageDataset Get(string split) => split switch
    {
        "test" => Test ?? Validation ?? throw new InvalidOperationException("the data has neither a test nor a validation split"),
        "val" or "validation" => Validation ?? throw new InvalidOperationException("the data has no validation split"),
        "train" => Train,
        _ => throw new ArgumentException($"split must be train, val or test, got '{split}'"),
    };
}

/// <summary>
/// Opens training data from one spec string, the way <c>rwkv train --data</c> and the library's run API take it:
/// <c>fashion-mnist</c> (official train/test, a stratified validation split held out of train),
/// <c>idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS]</c>,
/// a folder (leaf folder = class; with train/ and val/ or test/ subfolders those are the splits),
/// or a CSV/JSONL manifest (split by its group column when it has one, so no patient lands in two splits).
/// </summary>
public static class DataSources
{
    /// <summary>Opens <paramref name="spec"/>; <paramref name="limitTrain"/> keeps a stratified subset of the training split.</summary>
    public static DataSplits Open(string spec, double valFraction, long seed, int? limitTrain = null)
    {
        var splits = OpenUnlimited(spec, valFraction, seed);
        if (limitTrain is int n && n > 0 && n < splits.Train.Count)
        {
            // A stratified subset keeps every class present in a short run.
            double keep = (double)n / splits.Train.Count;
            var subset = DatasetSplit.Stratified(splits.Train, keep, seed + 1).Val;
            splits = splits with { Train = new SubsetDataset(splits.Train, subset), Description = splits.Description + $", train limited to {subset.Length}" };
        }
        return splits;
    }

    /// <summary>True for specs whose images are tiny records in memory (one loader thread is enough for them).</summary>
    public static bool IsInMemory(string spec) =>
        string.IsNullOrWhiteSpace(spec) || spec.Equals("fashion-mnist", StringComparison.OrdinalIgnoreCase)
        || spec.StartsWith("idx:", StringComparison.OrdinalIgnoreCase);

    private static DataSplits OpenUnlimited(string spec, double valFraction, long seed)
    {
        if (string.IsNullOrWhiteSpace(spec) || spec.Equals("fashion-mnist", StringComparison.OrdinalIgnoreCase))
        {
            var train = IdxDataset.FashionMnist(train: true);
            var test = IdxDataset.FashionMnist(train: false);
            return WithValidation(train, test, valFraction, seed, $"Fashion-MNIST ({Path.GetDirectoryName(train.ImagesPath)})");
        }
        if (spec.StartsWith("idx:", StringComparison.OrdinalIgnoreCase))
        {
            var parts = spec[4..].Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length is not (2 or 4))
                throw new ArgumentException($"data '{spec}': expected idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS]");
            var train = new IdxDataset(parts[0], parts[1]);
            var test = parts.Length == 4 ? new IdxDataset(parts[2], parts[3], train.Classes.Names) : null;
            return WithValidation(train, test, valFraction, seed, $"IDX {parts[0]}");
        }
        if (ChestXraySpec(spec, valFraction, seed) is { } xray)
            return xray;
        if (Directory.Exists(spec))
        {
            string? trainDir = Sub(spec, "train");
            string? valDir = Sub(spec, "val") ?? Sub(spec, "valid") ?? Sub(spec, "validation");
            string? testDir = Sub(spec, "test");
            if (trainDir is not null && (valDir is not null || testDir is not null))
            {
                var train = new ImageFolderDataset(trainDir);
                var val = valDir is null ? null : new ImageFolderDataset(valDir, train.Classes);
                var test = testDir is null ? null : new ImageFolderDataset(testDir, train.Classes);
                if (val is null)
                    return WithValidation(train, test, valFraction, seed, $"image folder {spec} (train/test)");
                return new DataSplits(train, val, test, $"image folder {spec} (train/{(test is null ? "val" : "val/test")})");
            }
            return WithValidation(new ImageFolderDataset(spec), null, valFraction, seed, $"image folder {spec}");
        }
        if (File.Exists(spec) && (spec.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || spec.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)))
            return WithValidation(ManifestDataset.Open(spec), null, valFraction, seed, $"manifest {spec}");
        throw new FileNotFoundException($"data '{spec}': not 'fashion-mnist', 'idx:...', an existing folder, or a .csv/.jsonl manifest");
    }

    /// <summary>
    /// The chest X-ray data sets in their published layouts, with their official test splits and a validation split
    /// drawn BY PATIENT from the training part:
    /// <c>nih:DIR</c> (train_val_list.txt / test_list.txt), <c>chexpert:DIR[?policy=ignore|zeros|ones]</c> (train.csv /
    /// valid.csv; the hidden official test set is not published, so valid.csv is the test split, as in most papers),
    /// <c>mimic:DIR[?policy=...]</c> (mimic-cxr-2.0.0-split.csv when present, else the patient split alone). The policy
    /// says what CheXpert's uncertain (-1) labels become; the default, ignore (U-Ignore), masks them. <c>labels=A,B,...</c>
    /// (joined to the policy by '&amp;') keeps only these findings; <c>labels=competition</c> is CheXpert's five tasks.
    /// </summary>
    private static DataSplits? ChestXraySpec(string spec, double valFraction, long seed)
    {
        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return null;
        var kind = spec[..colon].ToLowerInvariant();
        if (kind is not ("nih" or "chexpert" or "mimic")) return null;
        var rest = spec[(colon + 1)..];
        var policy = UncertaintyPolicy.Ignore;
        bool hasPolicy = false;
        IReadOnlyList<string>? labels = null;
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            foreach (var pair in rest[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                if (kv.Length == 2 && kv[0].Equals("labels", StringComparison.OrdinalIgnoreCase))
                {
                    labels = kv[1].Equals("competition", StringComparison.OrdinalIgnoreCase) ? CheXpert.CompetitionTasks
                        : kv[1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    continue;
                }
                if (kv.Length != 2 || !kv[0].Equals("policy", StringComparison.OrdinalIgnoreCase))
                    throw new ArgumentException($"data '{spec}': unknown option '{pair}' (expected policy=ignore|zeros|ones or labels=A,B,...)");
                hasPolicy = true;
                policy = kv[1].ToLowerInvariant() switch
                {
                    "ignore" or "u-ignore" => UncertaintyPolicy.Ignore,
                    "zeros" or "u-zeros" => UncertaintyPolicy.Zeros,
                    "ones" or "u-ones" => UncertaintyPolicy.Ones,
                    _ => throw new ArgumentException($"data '{spec}': policy must be ignore, zeros or ones, got '{kv[1]}'"),
                };
            }
            rest = rest[..q];
        }
        var dir = rest;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"data '{spec}': {dir} is not a folder");
        switch (kind)
        {
            case "nih":
            {
                if (hasPolicy) throw new ArgumentException($"data '{spec}': NIH ChestX-ray14 has no uncertain labels (no policy option)");
                var (trainVal, test) = NihChestXray14.Open(dir, labels);
                return WithValidation(trainVal, test, valFraction, seed, $"NIH ChestX-ray14 {dir} (official train_val/test lists{MissingNote(trainVal)})");
            }
            case "chexpert":
            {
                var train = CheXpert.Read(Path.Combine(dir, "train.csv"), dir, policy, labels);
                var valid = CheXpert.Read(Path.Combine(dir, "valid.csv"), dir, policy, labels);
                return WithValidation(train, valid, valFraction, seed, $"CheXpert {dir} (train.csv, valid.csv as test, uncertain = {policy}{MissingNote(train)})");
            }
            default:
            {
                var all = MimicCxrJpg.Read(dir, policy, labels);
                var splitCsv = Path.Combine(dir, "mimic-cxr-2.0.0-split.csv");
                if (!File.Exists(splitCsv))
                    return WithValidation(all, null, valFraction, seed, $"MIMIC-CXR-JPG {dir} (no split file: patient split only, uncertain = {policy})");
                var (header, rows) = CsvFiles.Read(splitCsv);
                int dicomCol = Array.IndexOf(header, "dicom_id"), splitCol = Array.IndexOf(header, "split");
                if (dicomCol < 0 || splitCol < 0) throw new InvalidDataException($"{splitCsv}: needs 'dicom_id' and 'split' columns");
                var splitOf = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (_, cells) in rows) splitOf[cells[dicomCol].Trim()] = cells[splitCol].Trim();
                int[] Where(string name) => [.. Enumerable.Range(0, all.Count).Where(i => splitOf.GetValueOrDefault(all.Items[i].ImageId) == name)];
                IImageDataset? Part(string name) => Where(name) is { Length: > 0 } idx ? new SubsetDataset(all, idx) : null;
                var val = Part("validate");
                var test = Part("test");
                var trainPart = new SubsetDataset(all, Where("train"));
                return val is null
                    ? WithValidation(trainPart, test, valFraction, seed, $"MIMIC-CXR-JPG {dir} (official test split, uncertain = {policy})")
                    : new DataSplits(trainPart, val, test, $"MIMIC-CXR-JPG {dir} (official train/validate/test splits, uncertain = {policy})");
            }
        }
    }

    private static string MissingNote(ChestXrayDataset d) => d.Missing.Count == 0 ? "" : $", {d.Missing.Count} listed images not found";

    private static string? Sub(string root, string name)
    {
        var p = Path.Combine(root, name);
        return Directory.Exists(p) ? p : null;
    }

    private static DataSplits WithValidation(IImageDataset all, IImageDataset? test, double valFraction, long seed, string description)
    {
        if (valFraction <= 0)
            return new DataSplits(all, null, test, description);
        // Any group id at all means patient-style data: split by group so no group lands on both sides.
        bool grouped = Enumerable.Range(0, all.Count).Any(i => all.GroupOf(i) is not null);
        var split = grouped ? DatasetSplit.ByGroup(all, valFraction, seed) : DatasetSplit.Stratified(all, valFraction, seed);
        return new DataSplits(new SubsetDataset(all, split.Train), new SubsetDataset(all, split.Val), test,
            description + (grouped ? $", validation {split.Val.Length} by group" : $", validation {split.Val.Length} stratified"));
    }
}
