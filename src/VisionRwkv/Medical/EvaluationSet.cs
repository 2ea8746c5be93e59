namespace VisionRwkv.Medical;

/// <summary>
/// A model's outputs on one split of a multi-label data set: per image its id, its patient, and per label its raw
/// logit and target. Row-major [N,K]. A target of NaN means "not evaluated for this label" (missing, or uncertain under
/// U-Ignore) and drops that (image, label) pair from that label's metrics only.
/// </summary>
public sealed record EvaluationSet(IReadOnlyList<string> ImageIds, IReadOnlyList<string> PatientIds, IReadOnlyList<string> Labels,
    float[] Logits, float[] Targets)
{
    public int Count => ImageIds.Count;

    public int LabelCount => Labels.Count;

    /// <summary>Throws a one-line error naming the first inconsistency.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(ImageIds);
        ArgumentNullException.ThrowIfNull(PatientIds);
        ArgumentNullException.ThrowIfNull(Labels);
        ArgumentNullException.ThrowIfNull(Logits);
        ArgumentNullException.ThrowIfNull(Targets);
        if (Labels.Count == 0) throw new ArgumentException("The evaluation set has no labels.");
        if (PatientIds.Count != ImageIds.Count) throw new ArgumentException($"{ImageIds.Count} image ids but {PatientIds.Count} patient ids.");
        if (Logits.Length != (long)Count * LabelCount) throw new ArgumentException($"{Logits.Length} logits do not fill {Count} images x {LabelCount} labels.");
        if (Targets.Length != Logits.Length) throw new ArgumentException($"{Targets.Length} targets do not fill {Count} images x {LabelCount} labels.");
        for (int i = 0; i < Targets.Length; i++)
        {
            var t = Targets[i];
            if (!(float.IsNaN(t) || t == 0 || t == 1))
                throw new ArgumentException($"Image {ImageIds[i / LabelCount]}, label {Labels[i % LabelCount]}: target {t} is not 0, 1 or NaN (masked).");
            if (!float.IsFinite(Logits[i]))
                throw new ArgumentException($"Image {ImageIds[i / LabelCount]}, label {Labels[i % LabelCount]}: logit {Logits[i]} is not finite.");
        }
    }

    /// <summary>Logits and targets of label <paramref name="label"/> over the given images (all when null), masked pairs left out.</summary>
    public (float[] Logits, bool[] Targets) Column(int label, IReadOnlyList<int>? images = null)
    {
        var logits = new List<float>();
        var targets = new List<bool>();
        int n = images?.Count ?? Count;
        for (int r = 0; r < n; r++)
        {
            int i = images is null ? r : images[r];
            float t = Targets[i * LabelCount + label];
            if (float.IsNaN(t)) continue;
            logits.Add(Logits[i * LabelCount + label]);
            targets.Add(t == 1);
        }
        return ([.. logits], [.. targets]);
    }

    /// <summary>The images evaluated for label <paramref name="label"/> (target not masked), in the order <see cref="Column"/> lists them.</summary>
    public int[] EvaluatedImages(int label)
    {
        var images = new List<int>();
        for (int i = 0; i < Count; i++)
            if (!float.IsNaN(Targets[i * LabelCount + label])) images.Add(i);
        return [.. images];
    }
}
