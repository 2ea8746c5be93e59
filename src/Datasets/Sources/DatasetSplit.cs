using VisionRwkv.Common;
namespace VisionRwkv.Datasets.Sources;

/// <summary>Train/validation index lists of a dataset.</summary>
public sealed record SplitIndices(int[] Train, int[] Val);

/// <summary>
/// Deterministic train/validation splits: the same dataset, fraction and seed always give the same indices.
/// </summary>
public static class DatasetSplit
{
    /// <summary>
    /// Per-class split: each class (for multi-label data, each distinct label set) sends round(n × fraction) of its items
    /// to validation, so class proportions hold in both parts. Classes with one item stay in training.
    /// </summary>
    public static SplitIndices Stratified(IImageDataset dataset, double valFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        CheckFraction(valFraction);
        var strata = new SortedDictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < dataset.Count; i++)
        {
            var key = string.Join(',', dataset.LabelsOf(i).Order());
            if (!strata.TryGetValue(key, out var list))
                strata[key] = list = [];
            list.Add(i);
        }
        var rng = new SeededRng((ulong)seed);
        var train = new List<int>();
        var val = new List<int>();
        foreach (var items in strata.Values)
        {
            rng.Shuffle(items);
            var nVal = items.Count < 2 ? 0 : Math.Min(items.Count - 1, (int)Math.Round(items.Count * valFraction, MidpointRounding.AwayFromZero));
            val.AddRange(items.Take(nVal));
            train.AddRange(items.Skip(nVal));
        }
        return new SplitIndices([.. train.Order()], [.. val.Order()]);
    }

    /// <summary>
    /// Split by group (for example patient id) so that no group has items on both sides: groups are shuffled by the seed
    /// and moved to validation until it holds about <paramref name="valFraction"/> of the items. Items without a group
    /// are their own group.
    /// </summary>
    public static SplitIndices ByGroup(IImageDataset dataset, double valFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        CheckFraction(valFraction);
        var groups = new SortedDictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < dataset.Count; i++)
        {
            // "\0" keeps ungrouped items from colliding with a real group of the same text.
            var key = dataset.GroupOf(i) ?? "\0" + dataset.NameOf(i);
            if (!groups.TryGetValue(key, out var list))
                groups[key] = list = [];
            list.Add(i);
        }
        var keys = groups.Keys.ToList();
        new SeededRng((ulong)seed).Shuffle(keys);
        var target = dataset.Count * valFraction;
        var train = new List<int>();
        var val = new List<int>();
        foreach (var k in keys)
        {
            var items = groups[k];
            // Take a group for validation while that moves the count closer to the target.
            if (Math.Abs(val.Count + items.Count - target) < Math.Abs(val.Count - target) && val.Count + items.Count < dataset.Count)
                val.AddRange(items);
            else
                train.AddRange(items);
        }
        return new SplitIndices([.. train.Order()], [.. val.Order()]);
    }

    private static void CheckFraction(double f)
    {
        if (f is < 0 or >= 1 || double.IsNaN(f))
            throw new ArgumentOutOfRangeException(nameof(f), f, "The validation fraction must be in [0, 1).");
    }
}
