namespace VisionRwkv.Medical;

/// <summary>
/// Temperature scaling for one label (Guo et al. 2017, per label for sigmoid outputs): p = sigmoid(z / T) with the single
/// T &gt; 0 that minimises the mean binary cross-entropy on validation logits. It rescales confidence without changing
/// the ranking, so AUROC and AP are unchanged.
/// </summary>
public static class TemperatureScaling
{
    /// <summary>
    /// Fits T by golden-section search on log(1/T) in [-ln 1000, ln 1000]. Written here (no optimiser is served): the BCE
    /// of logistic(b z) is convex in b = 1/T, hence unimodal in log b, which golden-section needs. Returns 1 when the
    /// targets are all equal or every logit is 0 (the loss has no interior minimum to find).
    /// </summary>
    public static double Fit(ReadOnlySpan<float> logits, ReadOnlySpan<bool> targets, double tolerance = 1e-10)
    {
        BinaryCurves.CheckLengths(logits, targets);
        bool anyPositive = false, anyNegative = false, anyNonZero = false;
        for (int i = 0; i < logits.Length; i++)
        {
            if (!float.IsFinite(logits[i])) throw new ArgumentException($"Logit {i} is {logits[i]}; logits must be finite.", nameof(logits));
            if (targets[i]) anyPositive = true; else anyNegative = true;
            if (logits[i] != 0) anyNonZero = true;
        }
        if (!anyPositive || !anyNegative || !anyNonZero) return 1.0;
        var z = logits.ToArray();
        var y = targets.ToArray();
        double Loss(double logB) => MeanBce(z, y, Math.Exp(logB));
        double a = -Math.Log(1000), b = Math.Log(1000);
        double invPhi = (Math.Sqrt(5) - 1) / 2;
        double c = b - invPhi * (b - a), d = a + invPhi * (b - a);
        double fc = Loss(c), fd = Loss(d);
        while (b - a > tolerance)
        {
            if (fc < fd) { b = d; d = c; fd = fc; c = b - invPhi * (b - a); fc = Loss(c); }
            else { a = c; c = d; fc = fd; d = a + invPhi * (b - a); fd = Loss(d); }
        }
        return 1.0 / Math.Exp((a + b) / 2);
    }

    /// <summary>sigmoid(z / T) of each logit.</summary>
    public static float[] Apply(ReadOnlySpan<float> logits, double temperature)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), $"Temperature {temperature} must be > 0.");
        var p = new float[logits.Length];
        for (int i = 0; i < p.Length; i++) p[i] = (float)Sigmoid(logits[i] / temperature);
        return p;
    }

    /// <summary>Mean BCE of sigmoid(scale * z) against y, in the stable form softplus(x) - y x.</summary>
    public static double MeanBce(ReadOnlySpan<float> logits, ReadOnlySpan<bool> targets, double scale)
    {
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = scale * logits[i];
            double softplus = Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            sum += softplus - (targets[i] ? x : 0);
        }
        return logits.Length == 0 ? double.NaN : sum / logits.Length;
    }

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
}
