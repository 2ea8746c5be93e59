using System.Globalization;
using System.Text;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Datasets.Sources;

/// <summary>Settings of the synthetic chest X-ray set.</summary>
public sealed record SyntheticXrayOptions
{
    public int Patients { get; init; } = 1000;
    /// <summary>Each patient has 1..MaxStudies studies (one frontal image each).</summary>
    public int MaxStudies { get; init; } = 3;
    /// <summary>Image side in pixels (square).</summary>
    public int Size { get; init; } = 128;
    /// <summary>Fraction of patients in test_list.txt (the rest in train_val_list.txt).</summary>
    public double TestFraction { get; init; } = 0.2;
    public ulong Seed { get; init; } = 2026;
    /// <summary>Stored bits of the 16-bit pixels (12..16).</summary>
    public int BitsStored { get; init; } = 12;
}

/// <summary>What was written: counts per finding over all images, and the files.</summary>
public sealed record SyntheticXraySummary(string Directory, int Patients, int Images, int TestImages, IReadOnlyDictionary<string, int> Positives);

/// <summary>
/// A deterministic, chest-X-ray-like multi-label set written in NIH ChestX-ray14's layout (Data_Entry_2017.csv,
/// train_val_list.txt, test_list.txt, images_001/images/*.dcm) so that <c>--data nih:DIR</c> reads it, plus
/// findings_boxes.csv (<c>image,label,x0,y0,x1,y1</c>: image path relative to the CSV folder, box in pixels, half-open;
/// findings_boxes_test.csv holds the test split's rows only)
/// for pointing-game checks of saliency maps. Images are gray 16-bit DICOM (MONOCHROME2, bright = dense): two dark lung
/// fields crossed by bright curved ribs and faint vessel markings, a spine and mediastinum, a heart shadow, noise.
/// Findings, with their per-image probabilities (cardiomegaly is a trait of the patient, so all of a patient's studies
/// share it): a nodule (small bright disc in a lung), a mass (larger irregular bright blob), an effusion (fluid filling
/// a costophrenic angle with a meniscus), cardiomegaly (a heart shadow 18-40% wider, against 85-115% in normal patients), a pneumothorax (an apical lateral
/// crescent without lung markings, edged by a thin bright pleural line). Same options and seed: byte-identical files.
/// </summary>
public static class SyntheticXray
{
    /// <summary>The findings, in NIH ChestX-ray14 spelling, with their probability per image.</summary>
    public static IReadOnlyList<(string Name, double Prevalence)> Findings { get; } =
    [
        ("Nodule", 0.10), ("Mass", 0.04), ("Effusion", 0.15), ("Cardiomegaly", 0.12), ("Pneumothorax", 0.06),
    ];

    public static IReadOnlyList<string> FindingNames { get; } = [.. Findings.Select(f => f.Name)];

    /// <summary>Writes the set into <paramref name="dir"/> (created). Refuses a folder that already holds a Data_Entry_2017.csv.</summary>
    public static SyntheticXraySummary Generate(string dir, SyntheticXrayOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        options ??= new SyntheticXrayOptions();
        if (options.Patients < 2) throw new ArgumentException($"Patients must be >= 2, got {options.Patients}.");
        if (options.Size < 32) throw new ArgumentException($"Size must be >= 32, got {options.Size}.");
        if (options.MaxStudies < 1) throw new ArgumentException($"MaxStudies must be >= 1, got {options.MaxStudies}.");
        var entries = Path.Combine(dir, "Data_Entry_2017.csv");
        if (File.Exists(entries)) throw new IOException($"{entries}: already exists; choose an empty folder (nothing is overwritten)");
        var images = Path.Combine(dir, "images_001", "images");
        Directory.CreateDirectory(images);
        var rng = new SeededRng(options.Seed);
        int s = options.Size;
        var csv = new StringBuilder("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n");
        var boxes = new StringBuilder("image,label,x0,y0,x1,y1\n");
        var testBoxes = new StringBuilder("image,label,x0,y0,x1,y1\n");
        var trainVal = new StringBuilder();
        var test = new StringBuilder();
        var positives = FindingNames.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        int count = 0, testCount = 0;
        var testPatients = new HashSet<int>(rng.Permutation(options.Patients).Take((int)Math.Round(options.Patients * options.TestFraction)));
        for (int p = 1; p <= options.Patients; p++)
        {
            var patient = Patient.Draw(rng);
            int studies = rng.NextInt(1, options.MaxStudies);
            bool isTest = testPatients.Contains(p - 1);
            for (int st = 0; st < studies; st++)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"{p:D8}_{st:D3}.dcm");
                var study = StudyOf(patient, rng, s);
                var pixels = Render(study, s, options.BitsStored, SeededRng.For((long)options.Seed, p, st));
                var pid = p.ToString(CultureInfo.InvariantCulture);
                DicomFileWriter.Write(Path.Combine(images, name), pixels, s, s, new DicomGrayImageInfo(pid,
                    DicomFileWriter.Uid($"synthetic-xray:{options.Seed}:{p}:{st}:study"), DicomFileWriter.Uid($"synthetic-xray:{options.Seed}:{p}:{st}:image"),
                    options.BitsStored, (1 << options.BitsStored) / 2.0, 1 << options.BitsStored) { PatientName = "SYNTHETIC^" + pid });
                var labels = study.Boxes.Select(b => b.Label).Distinct().ToList();
                foreach (var l in labels) positives[l]++;
                csv.Append(CultureInfo.InvariantCulture, $"{name},{(labels.Count == 0 ? NihChestXray14.NoFinding : string.Join('|', labels))},{st},{pid},{patient.Age},{patient.Sex},PA,{s},{s},0.5,0.5,\n");
                foreach (var b in study.Boxes)
                {
                    var line = string.Create(CultureInfo.InvariantCulture, $"images_001/images/{name},{b.Label},{b.X0},{b.Y0},{b.X1},{b.Y1}\n");
                    boxes.Append(line);
                    if (isTest) testBoxes.Append(line);
                }
                (isTest ? test : trainVal).Append(name).Append('\n');
                count++;
                if (isTest) testCount++;
            }
        }
        AtomicFile.WriteText(Path.Combine(dir, "train_val_list.txt"), trainVal.ToString());
        AtomicFile.WriteText(Path.Combine(dir, "test_list.txt"), test.ToString());
        AtomicFile.WriteText(Path.Combine(dir, "findings_boxes.csv"), boxes.ToString());
        // The test patients' boxes alone: what a pointing game of a trained model is scored on.
        AtomicFile.WriteText(Path.Combine(dir, "findings_boxes_test.csv"), testBoxes.ToString());
        AtomicFile.WriteText(entries, csv.ToString());
        return new SyntheticXraySummary(dir, options.Patients, count, testCount, positives);
    }

    /// <summary>A finding's box in pixels, half-open [X0,X1) x [Y0,Y1).</summary>
    public sealed record FindingBox(string Label, int X0, int Y0, int X1, int Y1);

    /// <summary>Reads findings_boxes.csv (the image paths relative to its folder).</summary>
    public static IReadOnlyList<(string Image, FindingBox Box)> ReadBoxes(string csvPath)
    {
        var (header, rows) = CsvFiles.Read(csvPath);
        string[] expected = ["image", "label", "x0", "y0", "x1", "y1"];
        if (!header.SequenceEqual(expected)) throw new InvalidDataException($"{csvPath}: header is '{string.Join(",", header)}', expected '{string.Join(",", expected)}'");
        int Int(string v, int line) => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x
            : throw new InvalidDataException($"{csvPath}:{line}: '{v}' is not an integer");
        return [.. rows.Select(r => (r.Cells[0], new FindingBox(r.Cells[1], Int(r.Cells[2], r.Line), Int(r.Cells[3], r.Line), Int(r.Cells[4], r.Line), Int(r.Cells[5], r.Line))))];
    }

    /// <summary>Patient-level anatomy: body habitus and the findings that persist across studies.</summary>
    private sealed record Patient(double LungScale, double HeartScale, bool Cardiomegaly, int Age, string Sex, double Density)
    {
        public static Patient Draw(SeededRng rng)
        {
            bool cardio = rng.Chance(Findings[3].Prevalence);
            return new Patient(rng.Uniform(0.92, 1.08), cardio ? rng.Uniform(1.18, 1.4) : rng.Uniform(0.85, 1.15), cardio,
                rng.NextInt(20, 90), rng.Chance(0.5) ? "M" : "F", rng.Uniform(0.9, 1.1));
        }
    }

    private sealed record Disc(double X, double Y, double R, double Irregularity, double Phase);

    private sealed record Study(Patient Patient, double Dx, double Dy, Disc? Nodule, Disc? Mass, int EffusionSide, double EffusionLevel,
        int PneumoSide, double PneumoDepth, List<FindingBox> Boxes);

    // Geometry in units of the image side, patient's right lung on the image's left (radiological convention).
    private const double LungY = 0.50, LungRy = 0.30, LungRx = 0.15, LeftLungX = 0.31, RightLungX = 0.69;
    private const double HeartX = 0.55, HeartY = 0.64, HeartRx = 0.12, HeartRy = 0.11;

    private static Study StudyOf(Patient pt, SeededRng rng, int s)
    {
        double dx = rng.Uniform(-0.02, 0.02), dy = rng.Uniform(-0.02, 0.02);
        var boxes = new List<FindingBox>();
        FindingBox Box(string label, double x0, double y0, double x1, double y1) => new(label,
            Math.Clamp((int)Math.Floor(x0 * s), 0, s), Math.Clamp((int)Math.Floor(y0 * s), 0, s),
            Math.Clamp((int)Math.Ceiling(x1 * s), 0, s), Math.Clamp((int)Math.Ceiling(y1 * s), 0, s));
        (double X, double Y) InLung()
        {
            // A point well inside one lung field (uniform in the inner ellipse).
            int side = rng.Chance(0.5) ? 0 : 1;
            double a = rng.Uniform(0, 2 * Math.PI), r = Math.Sqrt(rng.NextDouble()) * 0.7;
            double cx = (side == 0 ? LeftLungX : RightLungX) + dx;
            return (cx + r * LungRx * pt.LungScale * Math.Cos(a), LungY + dy + r * LungRy * pt.LungScale * Math.Sin(a));
        }
        Disc? nodule = null, mass = null;
        if (rng.Chance(Findings[0].Prevalence))
        {
            var (x, y) = InLung();
            nodule = new Disc(x, y, rng.Uniform(0.03, 0.045), 0, 0);
            boxes.Add(Box("Nodule", x - nodule.R, y - nodule.R, x + nodule.R, y + nodule.R));
        }
        if (rng.Chance(Findings[1].Prevalence))
        {
            var (x, y) = InLung();
            mass = new Disc(x, y, rng.Uniform(0.06, 0.09), rng.Uniform(0.15, 0.3), rng.Uniform(0, 2 * Math.PI));
            double r = mass.R * (1 + mass.Irregularity);
            boxes.Add(Box("Mass", x - r, y - r, x + r, y + r));
        }
        int effusionSide = -1;
        double level = 0;
        if (rng.Chance(Findings[2].Prevalence))
        {
            effusionSide = rng.NextInt(2);
            level = rng.Uniform(0.02, 0.09); // fluid height as a fraction of the image, up from the lung base
            double cx = (effusionSide == 0 ? LeftLungX : RightLungX) + dx, bottom = LungY + dy + LungRy * pt.LungScale;
            boxes.Add(Box("Effusion", cx - LungRx * pt.LungScale, bottom - level - 0.03, cx + LungRx * pt.LungScale, bottom));
        }
        if (pt.Cardiomegaly)
        {
            double rx = HeartRx * pt.HeartScale, ry = HeartRy * Math.Sqrt(pt.HeartScale);
            boxes.Add(Box("Cardiomegaly", HeartX + dx - rx, HeartY + dy - ry, HeartX + dx + rx, HeartY + dy + ry));
        }
        int pneumoSide = -1;
        double depth = 0;
        if (rng.Chance(Findings[4].Prevalence))
        {
            pneumoSide = rng.NextInt(2);
            depth = rng.Uniform(0.35, 0.6); // how far the collapsed lung edge sits in from the chest wall, in lung half-widths
            double cx = (pneumoSide == 0 ? LeftLungX : RightLungX) + dx, rx = LungRx * pt.LungScale, top = LungY + dy - LungRy * pt.LungScale;
            double x0 = pneumoSide == 0 ? cx - rx : cx + rx - 2 * rx * depth, x1 = pneumoSide == 0 ? cx - rx + 2 * rx * depth : cx + rx;
            boxes.Add(Box("Pneumothorax", x0, top, x1, top + LungRy * pt.LungScale * 1.1));
        }
        return new Study(pt, dx, dy, nodule, mass, effusionSide, level, pneumoSide, depth, boxes);
    }

    private static double Smooth(double edge0, double edge1, double x)
    {
        double t = Math.Clamp((x - edge0) / (edge1 - edge0), 0, 1);
        return t * t * (3 - 2 * t);
    }

    /// <summary>Renders one study as stored values in [0, 2^bits - 1]: density in [0,1] (bright = dense) plus noise.</summary>
    private static ushort[] Render(Study st, int s, int bits, SeededRng noise)
    {
        var pt = st.Patient;
        var px = new ushort[s * s];
        double max = (1 << bits) - 1;
        // Per-image vessel texture: a few random low-frequency waves.
        var waves = Enumerable.Range(0, 6).Select(_ => (Fx: noise.Uniform(8, 22), Fy: noise.Uniform(8, 22), Ph: noise.Uniform(0, 2 * Math.PI))).ToArray();
        double heartRx = HeartRx * pt.HeartScale, heartRy = HeartRy * Math.Sqrt(pt.HeartScale);
        for (int yi = 0; yi < s; yi++)
        {
            double y = (yi + 0.5) / s;
            for (int xi = 0; xi < s; xi++)
            {
                double x = (xi + 0.5) / s;
                // Body: soft tissue inside a wide ellipse, air outside.
                double body = 1 - Smooth(0.9, 1.0, Sq((x - 0.5) / 0.47) + Sq((y - 0.55) / 0.55));
                double d = 0.05 + 0.45 * body * pt.Density;
                // Lungs: air lowers density inside two ellipses.
                double lung = 0;
                int side = x < 0.5 ? 0 : 1;
                double lcx = (side == 0 ? LeftLungX : RightLungX) + st.Dx, lcy = LungY + st.Dy;
                double lrx = LungRx * pt.LungScale, lry = LungRy * pt.LungScale;
                double e = Sq((x - lcx) / lrx) + Sq((y - lcy) / lry);
                lung = 1 - Smooth(0.85, 1.0, e);
                // Effusion: fluid (soft-tissue density) fills the costophrenic angle with a meniscus rising laterally.
                if (st.EffusionSide == side && lung > 0)
                {
                    double bottom = lcy + lry;
                    double lateral = side == 0 ? (lcx - x) / lrx : (x - lcx) / lrx; // 1 at the chest wall
                    double surface = bottom - st.EffusionLevel - 0.05 * Math.Max(0, lateral);
                    lung *= 1 - Smooth(surface - 0.01, surface + 0.01, y);
                }
                double markings = 0;
                foreach (var w in waves) markings += Math.Sin(w.Fx * x + w.Ph) * Math.Sin(w.Fy * y + w.Ph * 0.7);
                markings = 0.03 * markings / waves.Length;
                // Pneumothorax: lateral apical crescent with no markings, darker, edged by a thin bright pleural line.
                bool pneumo = false;
                double pleura = 0;
                if (st.PneumoSide == side && lung > 0.5)
                {
                    double lateral = side == 0 ? (lcx + lrx - x) / (2 * lrx) : (x - lcx + lrx) / (2 * lrx); // 0 medial .. 1 lateral
                    double apical = 1 - (y - (lcy - lry)) / (1.1 * lry);
                    double edge = 1 - st.PneumoDepth * Math.Clamp(apical, 0, 1);
                    if (apical > 0 && lateral > edge) pneumo = true;
                    if (apical > 0) pleura = Math.Exp(-Sq((lateral - edge) * 2 * lrx * s / 2.0));
                }
                d -= 0.28 * lung * (pneumo ? 1.8 : 1);
                if (!pneumo) d += markings * lung;
                d += 0.18 * pleura;
                // Ribs: curved bright bands over the chest, fading at the midline.
                double ribPhase = (y - 0.18 + 0.10 * Sq(x - 0.5) * 4) * 55;
                double rib = Math.Pow(Math.Max(0, Math.Cos(ribPhase)), 6) * Smooth(0.02, 0.12, Math.Abs(x - 0.5)) * body;
                d += 0.10 * rib * (y < 0.85 ? 1 : 0);
                // Spine and mediastinum.
                d += 0.16 * Math.Exp(-Sq((x - 0.5 - st.Dx) / 0.045)) * body;
                d += 0.10 * (1 - Smooth(0.6, 1.0, Sq((x - 0.5 - st.Dx) / 0.09) + Sq((y - 0.35) / 0.25)));
                // Heart shadow (bigger with cardiomegaly), left of the patient = image right of the midline.
                double he = Sq((x - HeartX - st.Dx) / heartRx) + Sq((y - HeartY - st.Dy) / heartRy);
                d += 0.26 * (1 - Smooth(0.8, 1.0, he));
                if (st.Nodule is { } n) d += 0.22 * (1 - Smooth(0.6, 1.0, (Sq(x - n.X) + Sq(y - n.Y)) / Sq(n.R)));
                if (st.Mass is { } m)
                {
                    double a = Math.Atan2(y - m.Y, x - m.X);
                    double r = m.R * (1 + m.Irregularity * Math.Sin(3 * a + m.Phase) * Math.Cos(2 * a));
                    d += 0.20 * (1 - Smooth(0.6, 1.0, (Sq(x - m.X) + Sq(y - m.Y)) / Sq(r)));
                }
                d += 0.025 * noise.NextGaussian();
                px[yi * s + xi] = (ushort)Math.Clamp(Math.Round(d * max), 0, max);
            }
        }
        return px;
    }

    private static double Sq(double v) => v * v;
}
