using System.CommandLine;
using System.Globalization;
using System.Text;
using TorchSharp;
using VisionRwkv.Checkpoints;
using VisionRwkv.Common;
using VisionRwkv.Datasets.Imaging.Dicom;

namespace VisionRwkv.Cli.Commands;

/// <summary>
/// <c>rwkv dicom FILE...</c>: prints each file's main attributes; <c>--png</c> writes a windowed preview,
/// <c>--pixels</c> the stored values (pydicom's pixel_array) of every file as one safetensors file, <c>--csv</c> a
/// manifest-ready table of the ids. A bad file is reported and the others still processed.
/// </summary>
internal static class DicomCommand
{
    internal static Command Create()
    {
        var files = new Argument<string[]>("files") { Description = "DICOM files.", Arity = ArgumentArity.OneOrMore };
        var png = new Option<string?>("--png") { Description = "Folder for a windowed 8-bit PNG preview of each file (<name>.png)." };
        var pixels = new Option<string?>("--pixels") { Description = "Write each file's stored values (before any LUT, as pydicom's pixel_array) to this .safetensors file, one tensor per file named by the file name without extension." };
        var csv = new Option<string?>("--csv") { Description = "Write path, group (the Patient ID) and the other ids of each file to this CSV: add a label column and it is a manifest." };
        var window = new Option<string>("--window") { Description = "VOI for the preview: N (0-based window index; default 0, or the darkest to brightest pixel when the file has no window), none (full stored range), or C,W.", DefaultValueFactory = _ => "0" };
        var frame = new Option<int>("--frame") { Description = "Frame of multi-frame files for the preview (0-based).", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "Overwrite existing output files.", DefaultValueFactory = _ => false };

        var command = new Command("dicom", "Show DICOM attributes; write PNG previews, stored pixel values (safetensors) or a manifest table.");
        command.Arguments.Add(files);
        foreach (var o in new Option[] { png, pixels, csv, window, frame, force })
            command.Options.Add(o);
        command.SetAction(r => Run(r.GetValue(files)!, r.GetValue(png), r.GetValue(pixels), r.GetValue(csv), r.GetValue(window)!, r.GetValue(frame), r.GetValue(force)));
        return command;
    }

    private static int Run(string[] files, string? pngDir, string? pixelsPath, string? csvPath, string windowText, int frame, bool force)
    {
        VoiSelection window;
        try
        {
            window = VoiSelection.Parse(windowText);
        }
        catch (FormatException e)
        {
            return Fail(e.Message);
        }
        foreach (var output in new[] { pixelsPath, csvPath })
        {
            if (output is not null && File.Exists(output) && !force)
                return Fail($"{output}: already exists; pass --force to overwrite it");
        }
        var options = new DicomOptions { Window = window, Frame = frame };
        var tensors = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var rows = new List<IReadOnlyList<string?>>();
        var failed = 0;
        try
        {
            foreach (var path in files)
            {
                try
                {
                    var file = DicomFile.Open(path, options);
                    Console.WriteLine(path);
                    foreach (var (key, value) in DicomPreview.Describe(file))
                        Console.WriteLine($"  {key,-16} {value}");
                    if (pngDir is not null)
                        WritePng(file, pngDir, options, force);
                    if (pixelsPath is not null)
                        AddPixels(file, path, tensors, metadata);
                    if (csvPath is not null)
                    {
                        // A row for every file that was read (and decoded, when previews or pixels were asked for).
                        rows.Add([path, file.Info.PatientId ?? "", .. file.Info.ManifestFields().Skip(1).Select(f => f.Value)]);
                    }
                }
                catch (DicomException e)
                {
                    Console.Error.WriteLine($"rwkv dicom: {e.Message}");
                    failed++;
                }
            }
            if (pixelsPath is not null && tensors.Count > 0)
            {
                SafeTensors.Write(pixelsPath, tensors, metadata);
                Console.WriteLine($"{pixelsPath}: {tensors.Count} tensor{(tensors.Count == 1 ? "" : "s")} of stored values");
            }
            if (csvPath is not null)
            {
                CsvFiles.Write(csvPath, ["path", "group", "study_uid", "series_uid", "sop_uid", "modality", "view_position", "pixel_spacing", "rows", "columns"], rows);
                Console.WriteLine($"{csvPath}: {rows.Count} row{(rows.Count == 1 ? "" : "s")}");
            }
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        finally
        {
            foreach (var t in tensors.Values)
                t.Dispose();
        }
        if (failed > 0)
            Console.Error.WriteLine($"rwkv dicom: {failed} of {files.Length} file{(files.Length == 1 ? "" : "s")} could not be read");
        return failed > 0 ? 1 : 0;
    }

    private static void WritePng(DicomFile file, string dir, DicomOptions options, bool force)
    {
        var target = Path.Combine(dir, Path.GetFileNameWithoutExtension(file.Name) + ".png");
        if (File.Exists(target) && !force)
            throw new DicomException(file.Name, $"{target} already exists; pass --force to overwrite it", null);
        var bytes = DicomPreview.Png(DicomPreview.PreviewImage(file, options));
        AtomicFile.Write(target, s => s.Write(bytes));
        Console.WriteLine($"  {"preview",-16} {target}");
    }

    /// <summary>
    /// Adds the file's stored values as a tensor. safetensors has U16/U32, TorchSharp has not: those are widened to
    /// int32/int64 (values unchanged) and the original numpy type is recorded in the metadata under the tensor's name.
    /// </summary>
    private static void AddPixels(DicomFile file, string path, Dictionary<string, torch.Tensor> tensors, Dictionary<string, string> metadata)
    {
        var px = file.ReadPixels();
        var name = Path.GetFileNameWithoutExtension(path);
        if (name.Length == 0)
            name = Path.GetFileName(path);
        var unique = name;
        for (var k = 2; tensors.ContainsKey(unique); k++)
            unique = $"{name}_{k}";
        var shape = px.Shape.Select(d => (long)d).ToArray();
        var n = px.Length;
        torch.Tensor t = px.Type switch
        {
            PixelDataType.UInt8 => torch.tensor(px.Data, shape, torch.ScalarType.Byte),
            PixelDataType.Int8 => torch.tensor(px.Data.Select(b => (sbyte)b).ToArray(), shape),
            PixelDataType.Int16 => torch.tensor(Enumerable.Range(0, (int)n).Select(i => (short)px[i]).ToArray(), shape),
            PixelDataType.UInt16 or PixelDataType.Int32 => torch.tensor(Enumerable.Range(0, (int)n).Select(i => (int)px[i]).ToArray(), shape),
            _ => torch.tensor(Enumerable.Range(0, (int)n).Select(i => px[i]).ToArray(), shape),
        };
        tensors[unique] = t;
        metadata[unique] = string.Create(CultureInfo.InvariantCulture, $"{px.NumpyType} [{string.Join(",", px.Shape)}] from {path}");
        Console.WriteLine($"  {"pixels",-16} tensor '{unique}' {px.NumpyType} [{string.Join(",", px.Shape)}]");
    }


    private static int Fail(string message)
    {
        Console.Error.WriteLine($"rwkv dicom: {message}");
        return 1;
    }
}
