using System.Text;
using System.Text.Json;
using VisionRwkv.Datasets.Imaging.Dicom;
using Xunit.Abstractions;

namespace VisionRwkv.Datasets.Tests.Dicom;

/// <summary>
/// Our DICOM reader against pydicom 2.3 (with GDCM) on pydicom's own test files and on synthetic files: stored values
/// equal exactly, modality and VOI LUT outputs equal (integers exactly, floats within 1e-6 relative), and every file
/// pydicom cannot decode gives our named error. Each test prints its counts.
/// </summary>
[Collection(PydicomCollection.Name)]
public sealed class PydicomComparisonTests(PydicomReference reference, ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-6;

    private IEnumerable<PydicomReference.Entry> Decoded => reference.Entries.Where(e => e.Category == "decoded");

    private void Report(string what, IEnumerable<PydicomReference.Entry> entries)
    {
        foreach (var g in entries.GroupBy(e => e.Source).OrderBy(g => g.Key))
            output.WriteLine($"{what}: {g.Count()} {g.Key} files");
    }

    [SkippableFact]
    public void Stored_values_equal_pydicoms_pixel_array_exactly()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        var compared = new List<PydicomReference.Entry>();
        foreach (var e in Decoded)
        {
            try
            {
                var pixels = DicomFile.Open(e.Path).ReadPixels();
                var expected = reference.Array(e, "raw");
                if (pixels.NumpyType != expected.TypeName)
                    failures.Add($"{e}: type {pixels.NumpyType}, pydicom {expected.TypeName}");
                else if (!pixels.Shape.SequenceEqual(expected.Shape))
                    failures.Add($"{e}: shape [{string.Join(",", pixels.Shape)}], pydicom [{string.Join(",", expected.Shape)}]");
                else if (FirstDifference(pixels, expected.Values) is { } i)
                    failures.Add($"{e}: element {i} is {pixels[i]}, pydicom {expected.Values[i]}");
                else
                    compared.Add(e);
            }
            catch (Exception ex) when (ex is DicomException or IOException)
            {
                failures.Add($"{e}: {ex.Message}");
            }
        }
        Report("stored values equal", compared);
        foreach (var g in compared.GroupBy(e => TransferSyntax.FromUid(e.TransferSyntax ?? "").Name).OrderBy(g => g.Key))
            output.WriteLine($"  {g.Key}: {g.Count()}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void Modality_and_voi_lut_outputs_equal_pydicoms()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        var modality = new List<PydicomReference.Entry>();
        var voi = new List<PydicomReference.Entry>();
        var voiErrors = 0;
        foreach (var e in Decoded.Where(e => e.HasModality))
        {
            try
            {
                var file = DicomFile.Open(e.Path);
                var pixels = file.ReadPixels();
                var ds = file.Dataset;
                var mod = Enumerable.Range(0, pixels.Frames).Select(f => DicomLut.ApplyModality(DicomLut.StoredValues(pixels, f, file), ds)).ToList();
                if (Compare(mod.SelectMany(v => v).ToArray(), reference.Array(e, "modality")) is { } why)
                {
                    failures.Add($"{e} modality: {why}");
                    continue;
                }
                modality.Add(e);
                for (var w = 0; w < e.Voi.Count; w++)
                {
                    if (e.Voi[w] is { } pydicomError)
                    {
                        // pydicom refused this window: we must refuse it too, with our error.
                        var ex = Record.Exception(() => DicomLut.ApplyVoi(mod[0], ds, VoiSelection.FromIndex(w), out _));
                        if (ex is not DicomException)
                            failures.Add($"{e} window {w}: pydicom failed ({pydicomError}) but we gave {(ex is null ? "values" : ex.GetType().Name)}");
                        else
                            voiErrors++;
                        continue;
                    }
                    var ours = mod.SelectMany(m => DicomLut.ApplyVoi(m, ds, VoiSelection.FromIndex(w), out _)).ToArray();
                    if (Compare(ours, reference.Array(e, $"voi{w}")) is { } why2)
                        failures.Add($"{e} window {w}: {why2}");
                    else if (w == 0)
                        voi.Add(e);
                }
            }
            catch (Exception ex) when (ex is DicomException or IOException)
            {
                failures.Add($"{e}: {ex.Message}");
            }
        }
        Report("modality LUT equal", modality);
        Report("VOI LUT (first window) equal", voi);
        output.WriteLine($"windows pydicom refuses and we refuse too: {voiErrors}");
        output.WriteLine($"files whose stored values have bits above Bits Stored (masked before the LUTs): {Decoded.Count(e => e.MaskChanged)}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void Palette_and_ybr_colour_conversions_equal_pydicoms()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        int palettes = 0, ybr = 0, ybrExact = 0;
        foreach (var e in Decoded.Where(e => e.HasColor))
        {
            var file = DicomFile.Open(e.Path);
            var pixels = file.ReadPixels();
            var ds = file.Dataset;
            var pi = ds.GetString(DicomTags.PhotometricInterpretation);
            var expected = reference.Array(e, "color").Values;
            var ours = Enumerable.Range(0, pixels.Frames).SelectMany(f => pi == "PALETTE COLOR"
                ? DicomLut.ApplyPalette(DicomLut.StoredValues(pixels, f, file), ds, out _)
                : DicomLut.YbrFullToRgb(DicomLut.StoredValues(pixels, f, file))).ToArray();
            if (ours.Length != expected.Length)
            {
                failures.Add($"{e}: {ours.Length} values, pydicom {expected.Length}");
                continue;
            }
            var maxDiff = ours.Select((v, i) => Math.Abs(v - expected[i])).Max();
            if (pi == "PALETTE COLOR")
            {
                palettes++;
                if (maxDiff != 0)
                    failures.Add($"{e}: palette output differs by up to {maxDiff}");
            }
            else
            {
                // pydicom multiplies in float32 with numpy's matmul, whose summation order may differ from ours by an
                // ulp, which can move a value across a rounding boundary: allow 1 level.
                ybr++;
                if (maxDiff == 0)
                    ybrExact++;
                if (maxDiff > 1)
                    failures.Add($"{e}: YBR to RGB differs by up to {maxDiff}");
            }
        }
        output.WriteLine($"palette colour equal: {palettes} files; YBR to RGB within 1 level: {ybr} files ({ybrExact} exactly)");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void Files_pydicom_cannot_decode_give_our_named_error()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        var refused = new List<string>();
        foreach (var e in reference.Entries.Where(e => e.Category is "pixel_error" or "unreadable"))
        {
            var ex = Record.Exception(() => DicomFile.Open(e.Path).ReadPixels());
            if (ex is DicomException d && d.Path == e.Path && d.Reason.Length > 0)
                refused.Add($"{e.Name}: {d.ReasonWithOffset}   [pydicom: {e.Error}]");
            else
                failures.Add($"{e}: pydicom failed ({e.Error}) but we gave {(ex is null ? "pixels" : ex.GetType().Name + ": " + ex.Message)}");
        }
        output.WriteLine($"files pydicom cannot decode: {refused.Count + failures.Count}; our named error: {refused.Count}");
        var noReference = reference.Entries.Count(e => e.Category == "no_reference");
        if (noReference > 0)
            output.WriteLine($"files not compared because no pydicom plugin here decodes their transfer syntax (install python3-gdcm): {noReference}");
        foreach (var r in refused)
            output.WriteLine("  " + r);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void Files_without_pixel_data_read_and_say_so()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        var count = 0;
        foreach (var e in reference.Entries.Where(e => e.Category == "no_pixel_data"))
        {
            try
            {
                var file = DicomFile.Open(e.Path);
                var ex = Record.Exception(() => file.ReadPixels());
                if (ex is DicomException d && d.Reason.Contains("no Pixel Data", StringComparison.Ordinal))
                    count++;
                else
                    failures.Add($"{e}: expected the 'no Pixel Data' error, got {ex?.Message ?? "pixels"}");
            }
            catch (DicomException ex)
            {
                failures.Add($"{e}: pydicom reads it, we do not: {ex.Message}");
            }
        }
        output.WriteLine($"files without pixel data, read and reported: {count}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void Header_values_equal_pydicoms()
    {
        Skip.If(reference.SkipReason is not null, reference.SkipReason);
        var failures = new List<string>();
        var count = 0;
        foreach (var e in reference.Entries.Where(e => e.Header is not null && e.Category != "unreadable"))
        {
            DicomInfo info;
            try
            {
                info = DicomFile.Open(e.Path).Info;
            }
            catch (DicomException ex)
            {
                failures.Add($"{e}: {ex.Message}");
                continue;
            }
            var h = e.Header!.Value;
            string? S(string k) => h.GetProperty(k).ValueKind == JsonValueKind.Null ? null : h.GetProperty(k).ToString();
            var pairs = new (string Key, string? Ours, string? Theirs)[]
            {
                ("PatientID", info.PatientId, S("PatientID")),
                ("StudyInstanceUID", info.StudyInstanceUid, S("StudyInstanceUID")),
                ("SeriesInstanceUID", info.SeriesInstanceUid, S("SeriesInstanceUID")),
                ("Modality", info.Modality, S("Modality")),
                ("ViewPosition", info.ViewPosition, S("ViewPosition")),
                ("Rows", info.Rows == 0 ? null : info.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture), S("Rows")),
                ("Columns", info.Columns == 0 ? null : info.Columns.ToString(System.Globalization.CultureInfo.InvariantCulture), S("Columns")),
            };
            foreach (var (key, ours, theirs) in pairs)
            {
                if (ours != theirs)
                    failures.Add($"{e} {key}: ours '{ours}', pydicom '{theirs}'");
            }
            if (h.GetProperty("PixelSpacing").ValueKind == JsonValueKind.Array)
            {
                var theirs = h.GetProperty("PixelSpacing").EnumerateArray().Select(x => x.GetDouble()).ToArray();
                if (!theirs.SequenceEqual(info.PixelSpacing) && h.GetProperty("PixelSpacing").GetArrayLength() > 0)
                    failures.Add($"{e} PixelSpacing: ours [{string.Join(",", info.PixelSpacing)}], pydicom [{string.Join(",", theirs)}]");
            }
            count++;
        }
        output.WriteLine($"headers compared: {count} files (Patient ID, Study/Series UIDs, Modality, View Position, Rows, Columns, Pixel Spacing)");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static long? FirstDifference(PixelArray pixels, double[] expected)
    {
        if (pixels.Length != expected.Length)
            return 0;
        for (long i = 0; i < expected.Length; i++)
        {
            if (pixels[i] != expected[i])
                return i;
        }
        return null;
    }

    private static string? Compare(double[] ours, Npy expected)
    {
        var theirs = expected.Values;
        if (ours.Length != theirs.Length)
            return $"{ours.Length} values, pydicom {theirs.Length}";
        for (var i = 0; i < theirs.Length; i++)
        {
            var ok = expected.IsInteger ? ours[i] == theirs[i] : Math.Abs(ours[i] - theirs[i]) <= RelativeTolerance * Math.Abs(theirs[i]) + 1e-12;
            if (!ok)
                return $"element {i} is {ours[i]}, pydicom {theirs[i]} ({expected.TypeName})";
        }
        return null;
    }
}
