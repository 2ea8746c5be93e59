using System.Globalization;
using VisionRwkv.Common;

namespace VisionRwkv.Medical;

/// <summary>
/// predictions.csv: one row per evaluated image with its id, its patient id and, per label, the target (1, 0, or empty
/// when masked), the score after temperature scaling and the raw score sigmoid(logit), so that anyone can recompute every
/// metric of the report. Scores are written round-trip exact ("R").
/// </summary>
public static class PredictionsCsv
{
    /// <summary>The header: image_id, patient_id, then per label "{label}_target", "{label}_score", "{label}_raw_score".</summary>
    public static string[] Header(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return ["image_id", "patient_id", .. labels.SelectMany(l => new[] { l + "_target", l + "_score", l + "_raw_score" })];
    }

    /// <summary>Writes predictions.csv atomically; <paramref name="temperatures"/> holds one temperature per label (1 for no scaling).</summary>
    public static void Write(string path, EvaluationSet set, IReadOnlyList<double> temperatures)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(temperatures);
        set.Validate();
        if (temperatures.Count != set.LabelCount)
            throw new ArgumentException($"{temperatures.Count} temperatures for {set.LabelCount} labels.", nameof(temperatures));
        CsvFiles.Write(path, Header(set.Labels), Rows(set, temperatures));
    }

    static IEnumerable<IReadOnlyList<string?>> Rows(EvaluationSet set, IReadOnlyList<double> temperatures)
    {
        int k = set.LabelCount;
        for (int i = 0; i < set.Count; i++)
        {
            var row = new string?[2 + 3 * k];
            row[0] = set.ImageIds[i];
            row[1] = set.PatientIds[i];
            for (int l = 0; l < k; l++)
            {
                float z = set.Logits[i * k + l], t = set.Targets[i * k + l];
                row[2 + 3 * l] = float.IsNaN(t) ? "" : t == 1 ? "1" : "0";
                row[3 + 3 * l] = ((float)TemperatureScaling.Sigmoid(z / temperatures[l])).ToString("R", CultureInfo.InvariantCulture);
                row[4 + 3 * l] = ((float)TemperatureScaling.Sigmoid(z)).ToString("R", CultureInfo.InvariantCulture);
            }
            yield return row;
        }
    }
}
