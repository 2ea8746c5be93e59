using System.CommandLine;
using System.Text.Json;
using TorchSharp;
using VisionRwkv.Wkv;
using VisionRwkv.Wkv.Cuda;
using VisionRwkv.Benchmarks;
using VisionRwkv.Common;
using VisionRwkv.Diagnostics;
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

    private static List<WkvBenchRecord> Run(Device dev, int runs, long maxT, long B, long referenceMaxT, KernelOptions kernels)
    {
        var records = new List<WkvBenchRecord>();
        Console.WriteLine($"WKV-4 on {dev.type}, B={B}, C={WkvBenchmark.Channels}, threads={torch.get_num_threads()}, median of {runs} runs (ms)");
        Console.WriteLine($"{"impl",-10} {"direction",-14} {"T",6} {"forward",10} {"fwd+bwd",10}");
        foreach (var r in WkvBenchmark.Run(dev, runs, maxT, B, referenceMaxT, kernels))
        {
            records.Add(r);
            if (r.Pass == "forward_backward")
                Console.WriteLine($"{r.Impl,-10} {r.Direction,-14} {r.T,6} {records[^2].Ms,10:F3} {r.Ms,10:F3}");
        }
        // The two numbers the WKV targets are stated in: how the fast bidirectional forward grows from T=784 to
        // T=12544 (16x the tokens; linear means about 16x), and its cost at T=196 as a share of one VRWKV-T block forward.
        double? Fast(long t) => records.FirstOrDefault(r => r.Impl == "fast" && r.Direction == "bidirectional" && r.T == t && r.Pass == "forward")?.Ms;
        if (Fast(784) is double a && Fast(12544) is double b)
            Console.WriteLine($"fast bidirectional forward, T=784 -> 12544 (16x tokens): {b / a:F1}x time");
        if (Fast(196) is double wkv)
        {
            double blockMs = WkvBenchmark.BlockForwardMs(dev, runs, B, kernels);
            Console.WriteLine($"VRWKV-T block forward at B={B}, T=196: {blockMs:F3} ms; the fast Bi-WKV forward is {100 * wkv / blockMs:F1}% of it (it runs inside the block too)");
        }
        return records;
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
}
