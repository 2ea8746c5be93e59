using VisionRwkv.Benchmarks;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Benchmarks;

public class TimingTests
{
    [Fact]
    public void Median_of_an_odd_count_is_the_middle_value()
    {
        Assert.Equal(3.0, Timing.Median([9.0, 1.0, 3.0, 7.0, 2.0]));
    }

    [Fact]
    public void Median_of_an_even_count_averages_the_middle_two()
    {
        Assert.Equal(2.5, Timing.Median([4.0, 1.0, 2.0, 3.0]));
        Assert.Throws<ArgumentException>(() => Timing.Median([]));
    }

    [Fact]
    public void Measure_runs_warmups_untimed_and_disposes_each_iterations_tensors()
    {
        int calls = 0;
        var made = new List<Tensor>();
        var seconds = Timing.Measure(CPU, warmup: 2, iterations: 5, () =>
        {
            calls++;
            made.Add(ones(4, 4) * 2);
            Thread.Sleep(2);
        });
        Assert.Equal(7, calls);
        Assert.Equal(5, seconds.Length);
        Assert.All(seconds, s => Assert.True(s >= 0.0015, $"an iteration that sleeps 2 ms took {s * 1000:F2} ms"));
        Assert.All(made, t => Assert.True(t.IsInvalid, "a tensor made inside an iteration outlived its dispose scope"));
    }

    [Fact]
    public void Matmul_peak_is_two_n_cubed_over_the_median_time()
    {
        var peak = MatmulPeak.Measure(CPU, ScalarType.Float32, n: 128, iterations: 5);
        Assert.Equal(5, peak.Seconds.Count);
        Assert.Equal(2.0 * 128 * 128 * 128 / Timing.Median(peak.Seconds), peak.FlopsPerSecond, 6);
        Assert.True(peak.FlopsPerSecond > 1e8, $"{peak.FlopsPerSecond / 1e9:F2} GFLOP/s is implausibly low");
    }
}
