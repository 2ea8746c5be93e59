using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;
using VisionRwkv.Common;

namespace VisionRwkv.Datasets.Tests;

/// <summary>A dataset of labels and groups only (no pixels), for split properties.</summary>
internal sealed class FakeDataset(int[][] labels, string?[] groups, int classes) : IImageDataset
{
    public int Count => labels.Length;

    public ClassMap Classes { get; } = new(Enumerable.Range(0, classes).Select(i => $"c{i}"));

    public bool IsMultiLabel => labels.Any(l => l.Length != 1);

    public string NameOf(int index) => $"item{index}";

    public string? GroupOf(int index) => groups[index];

    public IReadOnlyList<int> LabelsOf(int index) => labels[index];

    public ImageBuffer Load(int index, DecodeOptions options) => throw new NotSupportedException();
}

public sealed class SplitTests
{
    private static FakeDataset Make(int n, ulong seed)
    {
        var rng = new SeededRng(seed);
        // Skewed classes (class 0 is 5x class 4) and patients with 1-12 images each.
        var labels = new int[n][];
        var groups = new string?[n];
        var patient = 0;
        var left = 0;
        for (var i = 0; i < n; i++)
        {
            labels[i] = [Math.Min(4, (int)(-Math.Log(1 - rng.NextDouble()) * 1.5))];
            if (left == 0)
            {
                patient++;
                left = rng.NextInt(1, 12);
            }
            groups[i] = $"patient{patient}";
            left--;
        }
        return new FakeDataset(labels, groups, 5);
    }

    [Fact]
    public void Stratified_split_keeps_class_proportions_and_covers_everything_once()
    {
        var ds = Make(2000, 1);
        var split = DatasetSplit.Stratified(ds, 0.2, seed: 7);
        Assert.Equal(ds.Count, split.Train.Length + split.Val.Length);
        Assert.Empty(split.Train.Intersect(split.Val));
        for (var c = 0; c < 5; c++)
        {
            var total = Enumerable.Range(0, ds.Count).Count(i => ds.LabelsOf(i)[0] == c);
            var inVal = split.Val.Count(i => ds.LabelsOf(i)[0] == c);
            Assert.True(Math.Abs(inVal - 0.2 * total) <= 1, $"class {c}: {inVal} of {total} in validation");
        }
    }

    [Fact]
    public void Splits_are_deterministic_per_seed()
    {
        var ds = Make(500, 2);
        Assert.Equal(DatasetSplit.Stratified(ds, 0.3, 5).Val, DatasetSplit.Stratified(ds, 0.3, 5).Val);
        Assert.NotEqual(DatasetSplit.Stratified(ds, 0.3, 5).Val, DatasetSplit.Stratified(ds, 0.3, 6).Val);
        Assert.Equal(DatasetSplit.ByGroup(ds, 0.3, 5).Val, DatasetSplit.ByGroup(ds, 0.3, 5).Val);
    }

    [Fact]
    public void Group_split_never_puts_a_group_on_both_sides()
    {
        var ds = Make(3000, 3);
        var split = DatasetSplit.ByGroup(ds, 0.25, seed: 11);
        var trainGroups = split.Train.Select(ds.GroupOf).ToHashSet();
        var valGroups = split.Val.Select(ds.GroupOf).ToHashSet();
        Assert.Empty(trainGroups.Intersect(valGroups));
        Assert.Equal(ds.Count, split.Train.Length + split.Val.Length);
        Assert.InRange(split.Val.Length / (double)ds.Count, 0.22, 0.28);
    }

    [Fact]
    public void Multi_label_items_are_stratified_by_label_set()
    {
        int[][] labels = [.. Enumerable.Range(0, 100).Select(i => i % 2 == 0 ? new[] { 0, 1 } : new[] { 2 })];
        var ds = new FakeDataset(labels, new string?[100], 3);
        var split = DatasetSplit.Stratified(ds, 0.1, 1);
        Assert.Equal(5, split.Val.Count(i => ds.LabelsOf(i).Count == 2));
        Assert.Equal(5, split.Val.Count(i => ds.LabelsOf(i).Count == 1));
    }
}
