using System.Text.Json.Serialization;
using TorchSharp;
using VisionRwkv.Blocks;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using VisionRwkv.Runtime;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

namespace VisionRwkv.Benchmarks;

/// <summary>One timed case of <see cref="WkvBenchmark"/>: median milliseconds of a forward or a forward+backward.</summary>
public sealed record WkvBenchRecord(
    [property: JsonPropertyName("impl")] string Impl,
    [property: JsonPropertyName("direction")] string Direction,
    [property: JsonPropertyName("T")] long T,
    [property: JsonPropertyName("pass")] string Pass,
    [property: JsonPropertyName("ms")] double Ms);

/// <summary>
/// Times the WKV-4 core (<c>rwkv bench wkv</c>): forward and forward+backward of the reference and the fast paths (and the
/// chunked tensor ops on CUDA), bidirectional and causal, at C=192 and T in {196, 784, 3136, 12544}.
/// </summary>
public static class WkvBenchmark
{
    /// <summary>Token width of every case: VRWKV-T's.</summary>
    public const long Channels = 192;

    /// <summary>The cases, yielded as each is measured (median of <paramref name="runs"/> after two warm-up calls).</summary>
    public static IEnumerable<WkvBenchRecord> Run(Device device, int runs, long maxT, long batch, long referenceMaxT, KernelOptions? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        long B = batch, C = Channels;
        foreach (var T in new long[] { 196, 784, 3136, 12544 })
        {
            if (T > maxT) continue;
            WkvImplementation[] impls = device.type == DeviceType.CUDA
                ? [WkvImplementation.Reference, WkvImplementation.Chunked, WkvImplementation.Fast]
                : [WkvImplementation.Reference, WkvImplementation.Fast];
            foreach (var impl in impls)
            {
                if (impl == WkvImplementation.Reference && (T > referenceMaxT || B * T > 8 * referenceMaxT)) continue;   // O(T) small ops: slow
                foreach (var dir in new[] { WkvDirection.Bidirectional, WkvDirection.Causal })
                {
                    double fwd, both;
                    using (NewDisposeScope())
                    {
                        // Drawn on the CPU (a seeded generator is a CPU generator here), then moved.
                        var gen = new Generator(1);
                        var k = (randn(new[] { B, T, C }, generator: gen) * 3).to(device).requires_grad_();
                        var v = randn(new[] { B, T, C }, generator: gen).to(device).requires_grad_();
                        var w = (dir == WkvDirection.Causal ? rand(C, generator: gen) + 0.01
                            : (rand(C, generator: gen) * 10 - 5) / T).to(device).detach().requires_grad_();
                        var u = (rand(C, generator: gen) - 0.5).to(device).detach().requires_grad_();
                        // Causal: y only, as training from the empty state uses it (no differentiable final state).
                        Tensor F() => dir == WkvDirection.Causal ? Wkv4.Causal(k, v, w, u, null, impl, differentiableState: false, kernels: kernels).Y
                            : Wkv4.Bidirectional(k, v, w, u, impl, kernels: kernels);
                        // Timing.Measure gives seconds; the records are in milliseconds.
                        fwd = 1000 * Timing.Median(Timing.Measure(device, 2, runs, () =>
                        {
                            using var s = NewDisposeScope();
                            using var ng = no_grad();
                            F();
                        }));
                        both = 1000 * Timing.Median(Timing.Measure(device, 2, runs, () =>
                        {
                            using var s = NewDisposeScope();
                            F().sum().backward();
                            k.grad?.zero_();
                        }));
                    }
                    string implName = impl switch
                    {
                        WkvImplementation.Reference => "reference",
                        WkvImplementation.Chunked => "chunked",
                        _ => "fast",
                    };
                    string dirName = dir == WkvDirection.Causal ? "causal" : "bidirectional";
                    yield return new WkvBenchRecord(implName, dirName, T, "forward", fwd);
                    yield return new WkvBenchRecord(implName, dirName, T, "forward_backward", both);
                }
            }
        }
    }

    /// <summary>Median milliseconds of one VRWKV-T block forward at [B,196,192] (the denominator of the WKV-share target).</summary>
    public static double BlockForwardMs(Device device, int runs, long batch, KernelOptions? kernels = null)
    {
        using var scope = NewDisposeScope();
        using var block = new Block(VrwkvConfig.Tiny.Block with { Kernels = kernels ?? KernelOptions.Default }, layerId: 1, dropPath: 0);
        block.to(device).eval();
        var x = randn(new[] { batch, 196L, Channels }).to(device);
        var grid = new PatchGrid(14, 14);
        return 1000 * Timing.Median(Timing.Measure(device, 2, runs, () =>
        {
            using var s = NewDisposeScope();
            using var ng = no_grad();
            block.call(x, grid);
        }));
    }
}
