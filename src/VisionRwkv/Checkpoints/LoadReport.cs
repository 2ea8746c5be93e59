using System.Text;

namespace VisionRwkv.Checkpoints;

/// <summary>A key whose tensor has a different shape in the checkpoint than in the model.</summary>
public sealed record ShapeMismatch(string Key, long[] Expected, long[] Actual)
{
    public override string ToString() => $"{Key}: model [{string.Join(", ", Expected)}], checkpoint [{string.Join(", ", Actual)}]";
}

/// <summary>A tensor that was loaded after an adaptation (resized, channels adapted): what was done to it.</summary>
public sealed record Adaptation(string Key, string What)
{
    public override string ToString() => $"{Key}: {What}";
}

/// <summary>
/// How a checkpoint's keys matched a model's: what was loaded, what the model wanted but the checkpoint lacks, what the
/// checkpoint has that the model does not, shape mismatches, and, when loading adapted weights (fine-tuning), which
/// tensors kept their fresh initialisation (a classifier head of another class count) and which were resized or
/// adapted. Print it; never ignore it silently.
/// </summary>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<ShapeMismatch> ShapeMismatches)
{
    /// <summary>The file the weights came from.</summary>
    public string Source { get; init; } = "";

    /// <summary>Keys left at the model's initialisation on purpose: a head whose shape differs in the checkpoint or that it lacks (a detector's neck and head from a classifier).</summary>
    public IReadOnlyList<string> Reinitialised { get; init; } = [];

    /// <summary>Keys loaded after resizing (position embeddings on another token grid).</summary>
    public IReadOnlyList<Adaptation> Resized { get; init; } = [];

    /// <summary>Keys loaded after another adaptation (an input conv from 3 to 1 channels or back).</summary>
    public IReadOnlyList<Adaptation> Adapted { get; init; } = [];

    /// <summary>Every expected key was present with the expected shape, and nothing else was in the checkpoint.</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0
                           && Reinitialised.Count == 0 && Resized.Count == 0 && Adapted.Count == 0;

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Source.Length > 0) sb.Append(Source).Append(": ");
        sb.Append("loaded ").Append(Loaded.Count).Append(" tensors");
        if (IsExact)
            return sb.Append(", all keys and shapes match").ToString();
        Section(sb, "re-initialised (a head of another shape, or absent from the checkpoint)", Reinitialised);
        Section(sb, "resized", Resized.Select(r => r.ToString()).ToList());
        Section(sb, "adapted", Adapted.Select(r => r.ToString()).ToList());
        Section(sb, "missing in checkpoint", Missing);
        Section(sb, "unexpected in checkpoint", Unexpected);
        Section(sb, "shape mismatch", ShapeMismatches.Select(m => m.ToString()).ToList());
        return sb.ToString();
    }

    private static void Section(StringBuilder sb, string title, IReadOnlyList<string> items)
    {
        if (items.Count == 0)
            return;
        sb.AppendLine().Append(title).Append(" (").Append(items.Count).Append("):");
        foreach (var item in items)
            sb.AppendLine().Append("  ").Append(item);
    }
}
