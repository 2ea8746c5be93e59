using System.Globalization;
using System.Text.RegularExpressions;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging;

namespace VisionRwkv.Datasets.Sources;

/// <summary>One chest radiograph: its file, image id, patient id and per finding a target 1, 0 or NaN (masked: not evaluated, not in the loss).</summary>
public sealed record ChestXrayItem(string Path, string ImageId, string PatientId, float[] Targets);

/// <summary>
/// A multi-label chest X-ray set read from a public data set's own files. <see cref="LabelsOf"/> lists the findings whose
/// target is 1; <see cref="TargetsOf"/> keeps the masked (NaN) ones apart from the negatives, for masked losses and metrics.
/// Groups are patient ids, so group splits are patient-level.
/// </summary>
public sealed class ChestXrayDataset : IImageDataset
{
    private readonly ChestXrayItem[] items;
    private readonly int[][] positives;

    public ChestXrayDataset(ClassMap findings, IEnumerable<ChestXrayItem> items, IReadOnlyList<string>? missing = null)
    {
        ArgumentNullException.ThrowIfNull(findings);
        ArgumentNullException.ThrowIfNull(items);
        Classes = findings;
        this.items = [.. items];
        foreach (var item in this.items)
            if (item.Targets.Length != findings.Count)
                throw new ArgumentException($"{item.Path}: {item.Targets.Length} targets for {findings.Count} findings.");
        positives = [.. this.items.Select(it => Enumerable.Range(0, it.Targets.Length).Where(k => it.Targets[k] == 1).ToArray())];
        Missing = missing ?? [];
    }

    public IReadOnlyList<ChestXrayItem> Items => items;

    /// <summary>Rows whose image file was not found (one line each, naming the row); they are not in the set.</summary>
    public IReadOnlyList<string> Missing { get; }

    public int Count => items.Length;

    public ClassMap Classes { get; }

    public bool IsMultiLabel => true;

    public string NameOf(int index) => items[index].Path;

    public string? GroupOf(int index) => items[index].PatientId;

    public IReadOnlyList<int> LabelsOf(int index) => positives[index];

    /// <summary>Per finding 1, 0, or NaN when masked.</summary>
    public IReadOnlyList<float> TargetsOf(int index) => items[index].Targets;

    public ImageBuffer Load(int index, DecodeOptions options) => ImageDecoder.Decode(items[index].Path, options);
}

/// <summary>
/// NIH ChestX-ray14 as published: <c>Data_Entry_2017.csv</c> (<c>Image Index</c>, <c>Finding Labels</c> joined by '|'
/// or <c>No Finding</c>, <c>Patient ID</c>), the official <c>train_val_list.txt</c>/<c>test_list.txt</c>, and the PNGs
/// anywhere under the folder (the release spreads them over images_001/images … images_012/images).
/// </summary>
public static class NihChestXray14
{
    /// <summary>The 14 findings, in the order of the NIH paper and CheXNet's Table 2 (CSV spelling).</summary>
    public static IReadOnlyList<string> Findings { get; } =
    [
        "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
        "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
    ];

    public const string NoFinding = "No Finding";

    /// <summary>The official split: train+val (to be split by patient further) and test.</summary>
    public static (ChestXrayDataset TrainVal, ChestXrayDataset Test) Open(string dir, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var all = Read(Path.Combine(dir, "Data_Entry_2017.csv"), dir, labels);
        var trainVal = ReadList(Path.Combine(dir, "train_val_list.txt"));
        var test = ReadList(Path.Combine(dir, "test_list.txt"));
        var overlap = trainVal.Intersect(test, StringComparer.Ordinal).FirstOrDefault();
        if (overlap is not null)
            throw new InvalidDataException($"{Path.Combine(dir, "test_list.txt")}: image {overlap} is also in train_val_list.txt.");
        ChestXrayDataset Subset(HashSet<string> names) =>
            new(all.Classes, all.Items.Where(i => names.Contains(i.ImageId)), all.Missing);
        return (Subset(trainVal), Subset(test));
    }

    /// <summary>
    /// Reads Data_Entry_2017.csv; images are looked up by file name under <paramref name="imageRoot"/>. <paramref name="labels"/>
    /// keeps only these findings as classes (default: all 14); the others must still be valid NIH findings and are dropped.
    /// </summary>
    public static ChestXrayDataset Read(string csvPath, string imageRoot, IReadOnlyList<string>? labels = null)
    {
        var all = new ClassMap(Findings);
        foreach (var l in labels ?? [])
            if (!all.TryIndexOf(l, out _)) throw new ArgumentException($"'{l}' is not an NIH ChestX-ray14 finding ({string.Join(", ", Findings)}).");
        var (header, rows) = CsvFiles.Read(csvPath);
        int Col(string name)
        {
            int c = Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
            return c >= 0 ? c : throw new InvalidDataException($"{csvPath}: no '{name}' column (header: {string.Join(",", header)}).");
        }
        int imageCol = Col("Image Index"), findingCol = Col("Finding Labels"), patientCol = Col("Patient ID");
        var classes = new ClassMap(labels ?? Findings);
        var files = IndexFiles(imageRoot);
        var items = new List<ChestXrayItem>();
        var missing = new List<string>();
        foreach (var (line, cells) in rows)
        {
            var image = cells[imageCol].Trim();
            var patient = cells[patientCol].Trim();
            if (image.Length == 0 || patient.Length == 0)
                throw new InvalidDataException($"{csvPath}:{line}: empty Image Index or Patient ID.");
            var targets = new float[classes.Count];
            var named = cells[findingCol].Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (named.Length == 0)
                throw new InvalidDataException($"{csvPath}:{line}: empty Finding Labels (expected findings or '{NoFinding}').");
            foreach (var l in named)
            {
                if (l == NoFinding)
                {
                    if (named.Length > 1) throw new InvalidDataException($"{csvPath}:{line}: '{NoFinding}' together with findings.");
                    continue;
                }
                if (!all.TryIndexOf(l, out _))
                    throw new InvalidDataException($"{csvPath}:{line}: unknown finding '{l}'.");
                if (classes.TryIndexOf(l, out var k)) targets[k] = 1;
            }
            if (files.TryGetValue(image, out var path))
                items.Add(new ChestXrayItem(path, image, patient, targets));
            else
                missing.Add($"{csvPath}:{line}: image {image} not found under {imageRoot}");
        }
        return new ChestXrayDataset(classes, items, missing);
    }

    private static HashSet<string> ReadList(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        return new HashSet<string>(File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0), StringComparer.Ordinal);
    }

    private static Dictionary<string, string> IndexFiles(string root)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root)) return files;
        // The release is PNG; DICOM (.dcm) and JPEG copies of the same layout are read as well (the synthetic demo set is DICOM).
        foreach (var f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            if (Path.GetExtension(f).ToLowerInvariant() is ".png" or ".dcm" or ".jpg" or ".jpeg")
                files.TryAdd(Path.GetFileName(f), f);
        return files;
    }
}

/// <summary>How CheXpert's uncertain (-1) labels are used (Irvin et al. 2019, §3.1).</summary>
public enum UncertaintyPolicy
{
    /// <summary>U-Ignore: masked (NaN) in the loss and in the metrics.</summary>
    Ignore,

    /// <summary>U-Zeros: counted as negative.</summary>
    Zeros,

    /// <summary>U-Ones: counted as positive.</summary>
    Ones,
}

/// <summary>
/// CheXpert as published: <c>train.csv</c>/<c>valid.csv</c> with a <c>Path</c> column
/// (<c>CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg</c>) and one column per observation holding
/// 1, 0, -1 (uncertain) or blank (not mentioned). The patient id is the path's <c>patientNNNNN</c> segment.
/// </summary>
public static partial class CheXpert
{
    /// <summary>The 14 observations, in the CSV's column order.</summary>
    public static IReadOnlyList<string> Observations { get; } =
    [
        "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
        "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
    ];

    /// <summary>The five competition tasks the CheXpert paper reports.</summary>
    public static IReadOnlyList<string> CompetitionTasks { get; } = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"];

    /// <summary>
    /// Reads one CheXpert CSV. <paramref name="blankAsNegative"/>: a blank means "not mentioned in the report"; the
    /// paper's baselines treat it as 0 (the default); false masks it like an uncertain label under U-Ignore.
    /// Paths are resolved against <paramref name="dir"/> with or without the CSV's leading release folder.
    /// </summary>
    public static ChestXrayDataset Read(string csvPath, string dir, UncertaintyPolicy policy, IReadOnlyList<string>? labels = null,
        bool blankAsNegative = true)
    {
        labels ??= Observations;
        var (header, rows) = CsvFiles.Read(csvPath);
        int pathCol = Array.FindIndex(header, h => h == "Path");
        if (pathCol < 0) throw new InvalidDataException($"{csvPath}: no 'Path' column (header: {string.Join(",", header)}).");
        var cols = labels.Select(l =>
        {
            int c = Array.IndexOf(header, l);
            return c >= 0 ? c : throw new InvalidDataException($"{csvPath}: no '{l}' column.");
        }).ToArray();
        var items = new List<ChestXrayItem>();
        var missing = new List<string>();
        foreach (var (line, cells) in rows)
        {
            var rel = cells[pathCol].Trim();
            var patient = PatientSegment().Match(rel);
            if (!patient.Success) throw new InvalidDataException($"{csvPath}:{line}: no patientNNNNN folder in path '{rel}'.");
            var targets = new float[cols.Length];
            for (int k = 0; k < cols.Length; k++)
                targets[k] = Target(cells[cols[k]], policy, blankAsNegative, csvPath, line, labels[k]);
            var path = Resolve(dir, rel);
            if (path is null) missing.Add($"{csvPath}:{line}: image {rel} not found under {dir}");
            else items.Add(new ChestXrayItem(path, rel, patient.Value, targets));
        }
        return new ChestXrayDataset(new ClassMap(labels), items, missing);
    }

    internal static float Target(string cell, UncertaintyPolicy policy, bool blankAsNegative, string csvPath, int line, string label)
    {
        var s = cell.Trim();
        if (s.Length == 0) return blankAsNegative ? 0 : float.NaN;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            throw new InvalidDataException($"{csvPath}:{line}: '{label}' is '{s}', expected 1, 0, -1 or blank.");
        return v switch
        {
            1 => 1,
            0 => 0,
            -1 => policy switch { UncertaintyPolicy.Zeros => 0, UncertaintyPolicy.Ones => 1, _ => float.NaN },
            _ => throw new InvalidDataException($"{csvPath}:{line}: '{label}' is '{s}', expected 1, 0, -1 or blank."),
        };
    }

    private static string? Resolve(string dir, string rel)
    {
        var direct = Path.Combine(dir, rel);
        if (File.Exists(direct)) return Path.GetFullPath(direct);
        int slash = rel.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var stripped = Path.Combine(dir, rel[(slash + 1)..]);
            if (File.Exists(stripped)) return Path.GetFullPath(stripped);
        }
        return null;
    }

    [GeneratedRegex(@"patient\d+")]
    private static partial Regex PatientSegment();
}

/// <summary>
/// MIMIC-CXR-JPG as published: <c>mimic-cxr-2.0.0-chexpert.csv</c> (labels per study: <c>subject_id</c>, <c>study_id</c>,
/// the 14 CheXpert observations as 1/0/-1/blank) joined on study with <c>mimic-cxr-2.0.0-metadata.csv</c> (one row per
/// image: <c>dicom_id</c>, <c>subject_id</c>, <c>study_id</c>, <c>ViewPosition</c>). Images live at
/// <c>files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg</c>, XX being the subject's first two digits. The patient is the subject.
/// </summary>
public static class MimicCxrJpg
{
    /// <param name="dir">The release folder (holding the two CSVs and files/).</param>
    /// <param name="policy">What an uncertain (-1) label becomes.</param>
    /// <param name="labels">Observations to read (default: all 14).</param>
    /// <param name="views">Keep only these ViewPosition values (e.g. PA, AP); null keeps every image.</param>
    /// <param name="blankAsNegative">As in <see cref="CheXpert.Read"/>.</param>
    public static ChestXrayDataset Read(string dir, UncertaintyPolicy policy, IReadOnlyList<string>? labels = null,
        IReadOnlySet<string>? views = null, bool blankAsNegative = true)
    {
        ArgumentNullException.ThrowIfNull(dir);
        labels ??= CheXpert.Observations;
        var labelCsv = Path.Combine(dir, "mimic-cxr-2.0.0-chexpert.csv");
        var metaCsv = Path.Combine(dir, "mimic-cxr-2.0.0-metadata.csv");
        var (lh, lrows) = CsvFiles.Read(labelCsv);
        int Col(string[] header, string name, string file)
        {
            int c = Array.IndexOf(header, name);
            return c >= 0 ? c : throw new InvalidDataException($"{file}: no '{name}' column (header: {string.Join(",", header)}).");
        }
        int lSubject = Col(lh, "subject_id", labelCsv), lStudy = Col(lh, "study_id", labelCsv);
        var cols = labels.Select(l => Col(lh, l, labelCsv)).ToArray();
        var byStudy = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (line, cells) in lrows)
        {
            var study = cells[lStudy].Trim();
            var targets = new float[cols.Length];
            for (int k = 0; k < cols.Length; k++)
                targets[k] = CheXpert.Target(cells[cols[k]], policy, blankAsNegative, labelCsv, line, labels[k]);
            if (!byStudy.TryAdd(study, targets))
                throw new InvalidDataException($"{labelCsv}:{line}: study {study} is listed twice.");
        }
        var (mh, mrows) = CsvFiles.Read(metaCsv);
        int mDicom = Col(mh, "dicom_id", metaCsv), mSubject = Col(mh, "subject_id", metaCsv), mStudy = Col(mh, "study_id", metaCsv);
        int mView = views is null ? -1 : Col(mh, "ViewPosition", metaCsv);
        var items = new List<ChestXrayItem>();
        var missing = new List<string>();
        foreach (var (line, cells) in mrows)
        {
            if (mView >= 0 && !views!.Contains(cells[mView].Trim())) continue;
            string dicom = cells[mDicom].Trim(), subject = cells[mSubject].Trim(), study = cells[mStudy].Trim();
            if (subject.Length < 2) throw new InvalidDataException($"{metaCsv}:{line}: subject_id '{subject}' is too short.");
            if (!byStudy.TryGetValue(study, out var targets))
            {
                missing.Add($"{metaCsv}:{line}: study {study} has no row in {Path.GetFileName(labelCsv)}");
                continue;
            }
            var path = Path.Combine(dir, "files", "p" + subject[..2], "p" + subject, "s" + study, dicom + ".jpg");
            if (File.Exists(path)) items.Add(new ChestXrayItem(Path.GetFullPath(path), dicom, subject, (float[])targets.Clone()));
            else missing.Add($"{metaCsv}:{line}: image {path} not found");
        }
        return new ChestXrayDataset(new ClassMap(labels), items, missing);
    }
}
