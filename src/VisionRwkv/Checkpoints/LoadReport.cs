using System.Text;

namespace VisionRwkv.Checkpoints;

/// <summary>A key whose tensor has a different shape in the checkpoint than in the model.</summary>
public sealed record ShapeMismatch(string Key, long[] Expected, long[] Actual)
{
    public override string ToString() => $"{Key}: model [{string.Join(", ", Expected)}], checkpoint [{string.Join(", ", Actual)}]";
}

/// <summary>
/// How a checkpoint's keys matched a model's: what was loaded, what the model wanted but the checkpoint lacks, what
/// the checkpoint has that the model does not, and shape mismatches. Print it; never ignore it silently.
/// </summary>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<ShapeMismatch> ShapeMismatches)
{
    /// <summary>Every expected key was present with the expected shape, and nothing else was in the checkpoint.</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("loaded ").Append(Loaded.Count).Append(" tensors");
        if (IsExact)
            return sb.Append(", all keys and shapes match").ToString();
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
