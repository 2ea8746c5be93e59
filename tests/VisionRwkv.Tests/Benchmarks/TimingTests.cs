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
    public void Interleaved_rounds_run_every_body_once_per_round_in_rotated_order()
    {
        var log = new List<int>();
        var made = new List<Tensor>();
        var seconds = Timing.MeasureInterleaved(CPU, warmup: 1, iterations: 5,
        [
            () => log.Add(0),
            () => { log.Add(1); made.Add(ones(2) * 3); },
            () => { log.Add(2); Thread.Sleep(2); },
        ]);
        // Warm-ups first (each body once), then rounds 0,1,2 / 1,2,0 / 2,0,1 / 0,1,2 / 1,2,0.
        Assert.Equal([0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2, 1, 2, 0], log);
        Assert.Equal(3, seconds.Length);
        Assert.All(seconds, s => Assert.Equal(5, s.Length));
        Assert.All(seconds[2], s => Assert.True(s >= 0.0015, $"a run that sleeps 2 ms took {s * 1000:F2} ms"));
        Assert.All(made, t => Assert.True(t.IsInvalid, "a tensor made inside a run outlived its dispose scope"));
    }

    [Fact]
    public void Matmul_peak_is_two_n_cubed_over_the_fastest_time()
    {
        var peak = MatmulPeak.Measure(CPU, ScalarType.Float32, n: 128, iterations: 5);
        Assert.Equal(5, peak.Seconds.Count);
        Assert.Equal(2.0 * 128 * 128 * 128 / peak.Seconds.Min(), peak.FlopsPerSecond, 6);
        Assert.True(peak.FlopsPerSecond > 1e8, $"{peak.FlopsPerSecond / 1e9:F2} GFLOP/s is implausibly low");
    }
}
