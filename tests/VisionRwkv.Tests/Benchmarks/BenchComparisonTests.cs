using VisionRwkv.Benchmarks;

namespace VisionRwkv.Tests.Benchmarks;

public class BenchComparisonTests
{
    private static BenchRecord R(string model, int res, double? imgPerS, double? mem) => new()
    {
        Model = model, Res = res, Batch = 1, Mode = "infer", Device = "cpu", DType = "float32", Tokens = (res / 16) * (res / 16),
        ImgPerS = imgPerS, PeakMemMb = mem,
    };

    [Fact]
    public void Ratios_pair_records_by_resolution_and_the_crossover_is_where_the_model_stays_faster()
    {
        var records = new[]
        {
            R("a", 224, 10, 100), R("b", 224, 20, 100),
            R("a", 448, 6, 150), R("b", 448, 5, 300),
            R("a", 896, 2, 300), R("b", 896, 0.5, 1200),
        };
        var c = BenchComparison.Compare(records, "a", "b");
        Assert.Equal([224, 448, 896], c.Rows.Select(r => r.Res));
        Assert.Equal(0.5, c.Rows[0].SpeedRatio);
        Assert.Equal(4.0, c.Rows[2].SpeedRatio);
        Assert.Equal(0.25, c.Rows[2].MemoryRatio);
        Assert.Equal(448, c.OvertakesAt);
    }

    [Fact]
    public void A_model_that_falls_behind_again_has_no_crossover_before_that()
    {
        var records = new[] { R("a", 224, 30, 1), R("b", 224, 20, 1), R("a", 448, 1, 1), R("b", 448, 2, 1) };
        Assert.Null(BenchComparison.Compare(records, "a", "b").OvertakesAt);
        var later = new[] { R("a", 224, 30, 1), R("b", 224, 20, 1), R("a", 448, 1, 1), R("b", 448, 2, 1), R("a", 896, 3, 1), R("b", 896, 1, 1) };
        Assert.Equal(896, BenchComparison.Compare(later, "a", "b").OvertakesAt);
    }

    [Fact]
    public void Failed_runs_are_left_out_of_the_comparison()
    {
        var records = new[] { R("a", 224, 10, null), R("b", 224, null, null), R("a", 448, 10, null), R("b", 448, 5, null) };
        var c = BenchComparison.Compare(records, "a", "b");
        Assert.Single(c.Rows);
        Assert.Null(c.Rows[0].MemoryRatio);
    }
}
