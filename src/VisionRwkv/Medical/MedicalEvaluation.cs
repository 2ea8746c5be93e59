namespace VisionRwkv.Medical;

/// <summary>What an evaluation computes. Defaults: 2000 patient resamples, 95% percentile intervals, 15 calibration bins.</summary>
public sealed record MedicalEvaluationOptions
{
    public int BootstrapResamples { get; init; } = 2000;
    public ulong Seed { get; init; }
    public double Level { get; init; } = 0.95;
    public int CalibrationBins { get; init; } = 15;
    public IReadOnlyList<OperatingRule> OperatingRules { get; init; } =
        [new OperatingRule.TargetSensitivity(0.90), new OperatingRule.TargetSensitivity(0.95), new OperatingRule.Youden()];
}

/// <summary>Calibration of one label on test before and after temperature scaling, in both bin schemes.</summary>
public sealed record CalibrationSummary(double Temperature, ReliabilityDiagram EqualWidthBefore, ReliabilityDiagram EqualWidthAfter,
    ReliabilityDiagram EqualMassBefore, ReliabilityDiagram EqualMassAfter);

/// <summary>Everything reported for one label on the test split.</summary>
public sealed record LabelEvaluation(string Label, long Positives, long Negatives, BootstrapInterval Auroc, BootstrapInterval AveragePrecision,
    RocPoint[] Roc, OperatingPoint[] OperatingPoints, CalibrationSummary Calibration);

/// <summary>The evaluation of a test split, with thresholds and temperatures fitted on a validation split.</summary>
public sealed record MedicalEvaluationReport(LabelEvaluation[] Labels, BootstrapInterval MacroAuroc, BootstrapInterval MacroAveragePrecision,
    int TestImages, int TestPatients, MedicalEvaluationOptions Options)
{
    public double[] Temperatures => [.. Labels.Select(l => l.Calibration.Temperature)];
}

/// <summary>
/// The evaluation a reviewer accepts: on test, per-label and macro AUROC and AP with patient-level bootstrap intervals;
/// operating points whose thresholds come from validation; calibration before and after a per-label temperature fitted on
/// validation. Macro means average the labels whose metric is defined (positives and negatives present) in that sample.
/// Scores are sigmoid(logit) for ranking and sigmoid(logit / T) for thresholds and calibration, so the validation-chosen
/// thresholds live on the same calibrated scale that predictions.csv's "score" column holds.
/// </summary>
public static class MedicalEvaluation
{
    public static MedicalEvaluationReport Evaluate(EvaluationSet validation, EvaluationSet test, MedicalEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(test);
        options ??= new MedicalEvaluationOptions();
        validation.Validate();
        test.Validate();
        if (!validation.Labels.SequenceEqual(test.Labels))
            throw new ArgumentException($"Validation labels ({string.Join(",", validation.Labels)}) differ from test labels ({string.Join(",", test.Labels)}).");
        var bootstrap = new PatientBootstrap(test.PatientIds);
        int k = test.LabelCount;
        var labels = new LabelEvaluation[k];
        for (int l = 0; l < k; l++)
        {
            int label = l;
            var (valLogits, valTargets) = validation.Column(label);
            var (testLogits, testTargets) = test.Column(label);
            double temperature = TemperatureScaling.Fit(valLogits, valTargets);
            var valScores = TemperatureScaling.Apply(valLogits, temperature);
            var testRaw = TemperatureScaling.Apply(testLogits, 1);
            var testScores = TemperatureScaling.Apply(testLogits, temperature);
            // Labels get distinct seeds so their resamples are not the same draws; still all fixed by options.Seed.
            ulong seed = options.Seed + (ulong)label * 1_000_003UL;
            var auroc = bootstrap.Interval(idx => LabelStat(test, label, idx, BinaryCurves.Auroc), options.BootstrapResamples, seed, options.Level);
            var ap = bootstrap.Interval(idx => LabelStat(test, label, idx, BinaryCurves.AveragePrecision), options.BootstrapResamples, seed, options.Level);
            var points = options.OperatingRules.Select(r => OperatingPoints.Choose(r, valScores, valTargets, testScores, testTargets)).ToArray();
            var calibration = new CalibrationSummary(temperature,
                Calibration.Reliability(testRaw, testTargets, options.CalibrationBins, BinScheme.EqualWidth),
                Calibration.Reliability(testScores, testTargets, options.CalibrationBins, BinScheme.EqualWidth),
                Calibration.Reliability(testRaw, testTargets, options.CalibrationBins, BinScheme.EqualMass),
                Calibration.Reliability(testScores, testTargets, options.CalibrationBins, BinScheme.EqualMass));
            long positives = testTargets.Count(t => t);
            labels[l] = new LabelEvaluation(test.Labels[l], positives, testTargets.Length - positives, auroc, ap,
                BinaryCurves.RocCurve(testRaw, testTargets), points, calibration);
        }
        var macroAuroc = bootstrap.Interval(idx => Macro(test, idx, BinaryCurves.Auroc), options.BootstrapResamples, options.Seed, options.Level);
        var macroAp = bootstrap.Interval(idx => Macro(test, idx, BinaryCurves.AveragePrecision), options.BootstrapResamples, options.Seed, options.Level);
        return new MedicalEvaluationReport(labels, macroAuroc, macroAp, test.Count, bootstrap.PatientCount, options);
    }

    delegate double Metric(ReadOnlySpan<float> scores, ReadOnlySpan<bool> targets);

    // Ranking metrics are invariant to the monotone sigmoid, so they are computed on the logits directly.
    static double LabelStat(EvaluationSet set, int label, int[] images, Metric metric)
    {
        var (logits, targets) = set.Column(label, images);
        return metric(logits, targets);
    }

    static double Macro(EvaluationSet set, int[] images, Metric metric)
    {
        double sum = 0;
        int defined = 0;
        for (int l = 0; l < set.LabelCount; l++)
        {
            double v = LabelStat(set, l, images, metric);
            if (!double.IsNaN(v)) { sum += v; defined++; }
        }
        return defined == 0 ? double.NaN : sum / defined;
    }
}
