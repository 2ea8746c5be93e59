using System.CommandLine;
using System.Globalization;
using VisionRwkv.Datasets.Sources;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv xray synth OUT</c>: writes the synthetic chest X-ray set (NIH ChestX-ray14 layout, 16-bit DICOM).</summary>
internal static class XrayCommand
{
    internal static Command Create()
    {
        var output = new Argument<string>("out") { Description = "Folder to create (must not hold a Data_Entry_2017.csv)." };
        var patients = new Option<int>("--patients") { Description = "Number of patients (1-3 studies each).", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = "Image side in pixels.", DefaultValueFactory = _ => 128 };
        var seed = new Option<long>("--seed") { Description = "Seed: the same seed and options write the same files.", DefaultValueFactory = _ => 2026 };
        var synth = new Command("synth", "Write a deterministic synthetic chest X-ray set readable with --data nih:OUT, with findings_boxes.csv.") { output, patients, size, seed };
        synth.SetAction(r =>
        {
            var summary = SyntheticXray.Generate(r.GetValue(output)!, new SyntheticXrayOptions
            {
                Patients = r.GetValue(patients), Size = r.GetValue(size), Seed = (ulong)r.GetValue(seed),
            });
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"wrote {summary.Images} images of {summary.Patients} patients ({summary.TestImages} in test_list.txt) to {summary.Directory}"));
            foreach (var (label, n) in summary.Positives)
                Console.WriteLine(string.Create(inv, $"  {label,-13} {n,5} positive ({100.0 * n / summary.Images:F1}%)"));
            Console.WriteLine($"train with: --data nih:{summary.Directory}?labels={string.Join(',', SyntheticXray.FindingNames)}");
            return 0;
        });
        return new Command("xray", "Chest X-ray helpers.") { synth };
    }
}
