using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using VisionRwkv.Models;
using VisionRwkv.Wkv;
using VisionRwkv.Wkv.Cuda;
using VisionRwkv.Blocks;
using VisionRwkv.Common;
using VisionRwkv.Diagnostics;
using VisionRwkv.Layers;
using VisionRwkv.Runtime;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary>
/// <c>rwkv bench wkv</c>: times forward and forward+backward of the reference and fast WKV-4 paths for B=8, C=192 and
/// T in {196, 784, 3136, 12544} (the reference only up to T=784; B set by --batch), prints a table and optionally writes JSON records.
/// On CUDA the chunked tensor-op fallback is timed too, and <c>--check</c> first compares the fused CUDA kernel and
/// the chunked ops against the float64 reference (forward and all four gradients) and fails if they disagree.
/// </summary>
internal static class BenchWkvCommand
{
    private sealed record Record(string impl, string direction, long T, string pass, double ms);

    internal static Command Create(KernelOptions kernels)
    {
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the records as JSON to this file." };
        var runs = new Option<int>("--runs") { Description = "Timed runs per case (median reported, at least 5).", DefaultValueFactory = _ => 5 };
        var maxT = new Option<long>("--max-t") { Description = "Skip lengths above this.", DefaultValueFactory = _ => 12544 };
        var batch = new Option<long>("--batch") { Description = "Batch size B.", DefaultValueFactory = _ => 8 };
        var check = new Option<bool>("--check") { Description = "CUDA only: first compare the fused kernel and the chunked ops with the float64 reference." };
        var refMaxT = new Option<long>("--reference-max-t") { Description = "Time the (slow) reference only up to this T.", DefaultValueFactory = _ => 784 };
        var command = new Command("wkv", "Time the WKV-4 core (reference and fast; bidirectional and causal).");
        command.Options.Add(device);
        command.Options.Add(json);
        command.Options.Add(runs);
        command.Options.Add(maxT);
        command.Options.Add(check);
        command.Options.Add(batch);
        command.Options.Add(refMaxT);
        command.SetAction(parse =>
        {
            var dev = parse.GetValue(device) switch
            {
                "cpu" => CPU,
                "cuda" when cuda.is_available() => CUDA,
                var d => throw new ArgumentException($"--device {d}: not available (use cpu{(cuda.is_available() ? " or cuda" : "")})."),
            };
            if (dev.type == DeviceType.CUDA)
                Console.WriteLine(Wkv4Cuda.IsAvailable ? $"fused CUDA WKV: {Wkv4Cuda.Describe()}"
                    : $"fused CUDA WKV unavailable: {Wkv4Cuda.UnavailableReason}");
            if (parse.GetValue(check))
            {
                if (dev.type != DeviceType.CUDA)
                    throw new ArgumentException("--check compares the fused CUDA kernel: use it with --device cuda.");
                if (!Check(dev))
                    return 1;
            }
            var records = Run(dev, Math.Max(5, parse.GetValue(runs)), parse.GetValue(maxT), parse.GetValue(batch), parse.GetValue(refMaxT), kernels);
            if (parse.GetValue(json) is { } file)
                AtomicFile.WriteText(file.FullName, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }

    private static List<Record> Run(Device dev, int runs, long maxT, long B, long referenceMaxT, KernelOptions kernels)
    {
        const long C = 192;
        var records = new List<Record>();
        Console.WriteLine($"WKV-4 on {dev.type}, B={B}, C={C}, threads={torch.get_num_threads()}, median of {runs} runs (ms)");
        Console.WriteLine($"{"impl",-10} {"direction",-14} {"T",6} {"forward",10} {"fwd+bwd",10}");
        foreach (var T in new long[] { 196, 784, 3136, 12544 })
        {
            if (T > maxT) continue;
            WkvImplementation[] impls = dev.type == DeviceType.CUDA
                ? [WkvImplementation.Reference, WkvImplementation.Chunked, WkvImplementation.Fast]
                : [WkvImplementation.Reference, WkvImplementation.Fast];
            foreach (var impl in impls)
            {
                if (impl == WkvImplementation.Reference && (T > referenceMaxT || B * T > 8 * referenceMaxT)) continue;   // O(T) small ops: slow
                foreach (var dir in new[] { WkvDirection.Bidirectional, WkvDirection.Causal })
                {
                    using var scope = NewDisposeScope();
                    // Drawn on the CPU (a seeded generator is a CPU generator here), then moved.
                    var gen = new Generator(1);
                    var k = (randn(new[] { B, T, C }, generator: gen) * 3).to(dev).requires_grad_();
                    var v = randn(new[] { B, T, C }, generator: gen).to(dev).requires_grad_();
                    var w = (dir == WkvDirection.Causal ? rand(C, generator: gen) + 0.01
                        : (rand(C, generator: gen) * 10 - 5) / T).to(dev).detach().requires_grad_();
                    var u = (rand(C, generator: gen) - 0.5).to(dev).detach().requires_grad_();
                    // Causal: y only, as training from the empty state uses it (no differentiable final state).
                    Tensor F() => dir == WkvDirection.Causal ? Wkv4.Causal(k, v, w, u, null, impl, differentiableState: false, kernels: kernels).Y
                        : Wkv4.Bidirectional(k, v, w, u, impl, kernels: kernels);
                    double fwd = Time(dev, runs, () =>
                    {
                        using var s = NewDisposeScope();
                        using var ng = no_grad();
                        F();
                    });
                    double both = Time(dev, runs, () =>
                    {
                        using var s = NewDisposeScope();
                        F().sum().backward();
                        k.grad?.zero_();
                    });
                    string implName = impl switch
                    {
                        WkvImplementation.Reference => "reference",
                        WkvImplementation.Chunked => "chunked",
                        _ => "fast",
                    };
                    string dirName = dir == WkvDirection.Causal ? "causal" : "bidirectional";
                    records.Add(new Record(implName, dirName, T, "forward", fwd));
                    records.Add(new Record(implName, dirName, T, "forward_backward", both));
                    Console.WriteLine($"{implName,-10} {dirName,-14} {T,6} {fwd,10:F3} {both,10:F3}");
                }
            }
        }
        Summarise(records, dev, runs, B, C);
        return records;
    }

    /// <summary>
    /// The two numbers the WKV targets are stated in: how the fast bidirectional forward grows from T=784 to T=12544
    /// (16x the tokens; linear means about 16x), and its cost at T=196 as a share of one VRWKV-T block forward.
    /// </summary>
    private static void Summarise(List<Record> records, Device dev, int runs, long B, long C)
    {
        double? Fast(long t) => records.FirstOrDefault(r => r.impl == "fast" && r.direction == "bidirectional" && r.T == t && r.pass == "forward")?.ms;
        if (Fast(784) is double a && Fast(12544) is double b)
            Console.WriteLine($"fast bidirectional forward, T=784 -> 12544 (16x tokens): {b / a:F1}x time");
        if (Fast(196) is double wkv && C == VrwkvConfig.Tiny.EmbedDims)
        {
            using var scope = NewDisposeScope();
            using var block = new Block(VrwkvConfig.Tiny.Block, layerId: 1, dropPath: 0);
            block.to(dev).eval();
            var x = randn(new[] { B, 196L, C }).to(dev);
            var grid = new PatchGrid(14, 14);
            double blockMs = Time(dev, runs, () =>
            {
                using var s = NewDisposeScope();
                using var ng = no_grad();
                block.call(x, grid);
            });
            Console.WriteLine($"VRWKV-T block forward at B={B}, T=196: {blockMs:F3} ms; the fast Bi-WKV forward is {100 * wkv / blockMs:F1}% of it (it runs inside the block too)");
        }
    }

    /// <summary>Prints the fused-vs-reference and chunked-vs-reference errors; true when every row passes.</summary>
    private static bool Check(Device dev)
    {
        var rows = KernelCheck.Run(dev);
        Console.WriteLine("error = max|x - reference(float64)| / max(1, max|reference|); L = sum(y * r)");
        Console.WriteLine($"{"case",-21} {"direction",-14} {"T",6} {"qty",5} {"fused",10} {"chunked",10} {"ok",4}");
        foreach (var r in rows)
            Console.WriteLine($"{r.Case,-21} {r.Direction,-14} {r.T,6} {r.Quantity,5} {r.Error,10:E2} {r.ChunkedError,10:E2} {(r.Pass ? "ok" : "FAIL"),4}");
        int failed = rows.Count(r => !r.Pass);
        Console.WriteLine(failed == 0 ? $"check: all {rows.Count} rows pass" : $"check: {failed} of {rows.Count} rows FAIL");
        return failed == 0;
    }

    /// <summary>Median wall time of <paramref name="runs"/> calls after two warm-up calls.</summary>
    private static double Time(Device dev, int runs, Action body)
    {
        for (int i = 0; i < 2; i++) body();
        var ms = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            if (dev.type == DeviceType.CUDA) cuda.synchronize();
            var sw = Stopwatch.StartNew();
            body();
            if (dev.type == DeviceType.CUDA) cuda.synchronize();
            ms[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms[runs / 2];
    }
}
