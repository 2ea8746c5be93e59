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
        // One set of patient resamples for every label and the macro means (paired), each label's ranking sorted once.
        // Ranking metrics are invariant to the monotone sigmoid, so they are computed on the logits.
        var imagesOf = new int[k][];
        var rankings = new WeightedRanking[k];
        for (int l = 0; l < k; l++)
        {
            imagesOf[l] = test.EvaluatedImages(l);
            var (z, y) = test.Column(l);
            rankings[l] = new WeightedRanking(z, y);
        }
        var intervals = bootstrap.Intervals(idx => Statistics(idx, test.Count, imagesOf, rankings), options.BootstrapResamples, options.Seed, options.Level);
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
            var points = options.OperatingRules.Select(r => OperatingPoints.Choose(r, valScores, valTargets, testScores, testTargets)).ToArray();
            var calibration = new CalibrationSummary(temperature,
                Calibration.Reliability(testRaw, testTargets, options.CalibrationBins, BinScheme.EqualWidth),
                Calibration.Reliability(testScores, testTargets, options.CalibrationBins, BinScheme.EqualWidth),
                Calibration.Reliability(testRaw, testTargets, options.CalibrationBins, BinScheme.EqualMass),
                Calibration.Reliability(testScores, testTargets, options.CalibrationBins, BinScheme.EqualMass));
            long positives = testTargets.Count(t => t);
            labels[l] = new LabelEvaluation(test.Labels[l], positives, testTargets.Length - positives, intervals[l], intervals[k + l],
                RocOnProbabilities(testLogits, testTargets), points, calibration);
        }
        return new MedicalEvaluationReport(labels, intervals[2 * k], intervals[2 * k + 1], test.Count, bootstrap.PatientCount, options);
    }

    /// <summary>
    /// The ROC curve ranked on the logits (as the AUROC is: float sigmoids saturate and would invent ties) with its
    /// thresholds mapped to probabilities sigmoid(z).
    /// </summary>
    static RocPoint[] RocOnProbabilities(float[] logits, bool[] targets) =>
        [.. BinaryCurves.RocCurve(logits, targets).Select(p => double.IsPositiveInfinity(p.Threshold) ? p : p with { Threshold = TemperatureScaling.Sigmoid(p.Threshold) })];

    /// <summary>[AUROC per label, AP per label, macro AUROC, macro AP] of the resample <paramref name="images"/>.</summary>
    static double[] Statistics(int[] images, int imageCount, int[][] imagesOf, WeightedRanking[] rankings)
    {
        var drawn = new int[imageCount];
        foreach (var i in images) drawn[i]++;
        int k = rankings.Length;
        var result = new double[2 * k + 2];
        for (int l = 0; l < k; l++)
        {
            var weights = new int[imagesOf[l].Length];
            for (int j = 0; j < weights.Length; j++) weights[j] = drawn[imagesOf[l][j]];
            (result[l], result[k + l]) = rankings[l].Compute(weights);
        }
        result[2 * k] = Training.MultiLabelMetrics.NanMean(result.Take(k));
        result[2 * k + 1] = Training.MultiLabelMetrics.NanMean(result.Skip(k).Take(k));
        return result;
    }
}
