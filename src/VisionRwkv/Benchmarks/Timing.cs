using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Benchmarks;

/// <summary>Clock helpers that are honest about asynchronous devices: CUDA work is synchronised before every reading.</summary>
public static class Timing
{
    /// <summary>Median of a non-empty list (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("median of no values", nameof(values));
        var sorted = values.OrderBy(v => v).ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Waits for queued work on the device (a no-op on the CPU, whose ops return when done).</summary>
    public static void Synchronize(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>
    /// Runs <paramref name="body"/> <paramref name="warmup"/> times untimed, then <paramref name="iterations"/> times
    /// timed, each run inside its own dispose scope; returns the seconds of every timed run.
    /// </summary>
    public static double[] Measure(Device device, int warmup, int iterations, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return MeasureInterleaved(device, warmup, iterations, [body])[0];
    }

    /// <summary>
    /// Times several bodies against each other: each runs <paramref name="warmup"/> times untimed, then
    /// <paramref name="iterations"/> rounds follow in which every body runs once, timed, in an order rotated by one each
    /// round. A machine whose speed drifts (turbo, a noisy neighbour on a shared host) then slows every body alike, so
    /// ratios between them stay fair. Each run has its own dispose scope; returns the seconds of every timed run, per body.
    /// </summary>
    public static double[][] MeasureInterleaved(Device device, int warmup, int iterations, IReadOnlyList<Action> bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        foreach (var body in bodies)
            for (int i = 0; i < warmup; i++)
                Run(device, body);
        var seconds = bodies.Select(_ => new double[iterations]).ToArray();
        for (int round = 0; round < iterations; round++)
        {
            for (int j = 0; j < bodies.Count; j++)
            {
                int b = (j + round) % bodies.Count;
                Synchronize(device);
                long start = Stopwatch.GetTimestamp();
                Run(device, bodies[b]);
                seconds[b][round] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
        }
        return seconds;
    }

    private static void Run(Device device, Action body)
    {
        using var scope = NewDisposeScope();
        body();
        Synchronize(device);
    }
}

/// <summary>The machine's measured matmul throughput, the denominator of a benchmark's peak fraction.</summary>
/// <param name="N">Square matrix size.</param>
/// <param name="DType">Element type of the product.</param>
/// <param name="Device">Where it ran.</param>
/// <param name="FlopsPerSecond">2·N³ over the fastest product: a peak is what the machine can reach, and on a shared
/// host slow phases would otherwise lower it (and flatter every fraction measured against it).</param>
/// <param name="Seconds">Every timed product.</param>
public sealed record MatmulPeak(int N, ScalarType DType, string Device, double FlopsPerSecond, IReadOnlyList<double> Seconds)
{
    /// <summary>Times <paramref name="iterations"/> N×N products (after one warm-up) and takes the fastest.</summary>
    public static MatmulPeak Measure(Device device, ScalarType dtype, int n = 2048, int iterations = 7)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        using var scope = NewDisposeScope();
        var a = randn(n, n, dtype: dtype, device: device);
        var b = randn(n, n, dtype: dtype, device: device);
        var seconds = Timing.Measure(device, warmup: 1, iterations, () => a.matmul(b));
        double flops = 2.0 * n * n * n / seconds.Min();
        return new MatmulPeak(n, dtype, device.ToString(), flops, seconds);
    }
}
