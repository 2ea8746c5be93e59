using System.Globalization;
using System.Text.Json;

namespace VisionRwkv.Cli.Tests;

/// <summary>The X-ray workflow as a user runs it: synth, train on nih:DIR, eval writing the report.</summary>
public class XrayCommandTests
{
    [Fact]
    public void Synth_train_and_eval_write_predictions_a_json_and_an_html_report_for_the_test_patients()
    {
        var root = Path.Combine(Path.GetTempPath(), $"rwkv-xray-{Guid.NewGuid():N}");
        try
        {
            var data = Path.Combine(root, "data");
            var (code, output) = CliRunner.Run(["xray", "synth", data, "--patients", "60", "--size", "64", "--seed", "3"]);
            Assert.True(code == 0, output);
            Assert.True(File.Exists(Path.Combine(data, "findings_boxes.csv")), output);
            (code, output) = CliRunner.Run(["xray", "synth", data, "--patients", "60"]);
            Assert.True(code != 0, "a second synth into the same folder must be refused:\n" + output);

            var run = Path.Combine(root, "run");
            (code, output) = CliRunner.Run(["train", "--model", "vrwkv_mini_64", "--data", $"nih:{data}?labels=Nodule,Mass,Effusion,Cardiomegaly,Pneumothorax",
                "--epochs", "1", "--batch-size", "16", "--val-fraction", "0.3", "-o", run]);
            Assert.True(code == 0, output);
            using (var runJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json"))))
            {
                // Multi-label data: BCE, and the best checkpoint by mean validation AUROC, without being told.
                var train = runJson.RootElement.GetProperty("train");
                Assert.True(train.GetProperty("multi_label").GetBoolean());
                Assert.Equal("val_auroc", train.GetProperty("best_metric").GetString());
            }

            var report = Path.Combine(root, "report");
            (code, output) = CliRunner.Run(["eval", run, "--out", report, "--resamples", "100"]);
            Assert.True(code == 0, output);
            Assert.Contains("AUROC [95% CI]", output);
            Assert.Contains("youden", output);
            Assert.Contains("ECE equal-width", output);
            foreach (var f in new[] { "predictions.csv", "report.json", "report.html" })
                Assert.True(File.Exists(Path.Combine(report, f)), $"{f} missing:\n{output}");
            var testImages = File.ReadAllLines(Path.Combine(data, "test_list.txt")).Count(l => l.Length > 0);
            var rows = File.ReadAllLines(Path.Combine(report, "predictions.csv"));
            Assert.Equal(testImages + 1, rows.Length);
            Assert.StartsWith("image_id,patient_id,Nodule_target,Nodule_score,Nodule_raw_score,", rows[0], StringComparison.Ordinal);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
            Assert.Equal(testImages, json.RootElement.GetProperty("test_images").GetInt32());
            Assert.Equal(5, json.RootElement.GetProperty("labels").GetArrayLength());
            Assert.Equal(100, json.RootElement.GetProperty("bootstrap").GetProperty("resamples").GetInt32());
            // The printed macro AUROC is the JSON's.
            var macro = json.RootElement.GetProperty("macro_auroc").GetProperty("point");
            if (macro.ValueKind == JsonValueKind.Number)
                Assert.Contains(macro.GetDouble().ToString("F3", CultureInfo.InvariantCulture), output);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
