using System.CommandLine;
using System.Globalization;
using VisionRwkv.Diagnostics;
using VisionRwkv.Wkv;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv golden FILE...</c>: parity with the official implementation's outputs and gradients.</summary>
internal static class GoldenCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Golden safetensors files (format: ../shared/goldens/README.md).", Arity = ArgumentArity.OneOrMore };
        var tolerance = new Option<double>("--tolerance") { Description = "Largest accepted max|a-b|/max|b|.", DefaultValueFactory = _ => GoldenCheck.DefaultTolerance };
        var impl = new Option<WkvImplementation>("--wkv") { Description = "Bi-WKV implementation to check (Auto, Reference, Fast).", DefaultValueFactory = _ => WkvImplementation.Auto };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print every compared tensor, not only the summary." };
        var command = new Command("golden", "Check the model against golden outputs of the official implementation (forward and backward).")
        {
            files, tolerance, impl, verbose,
        };
        command.SetAction(parse =>
        {
            bool allPassed = true;
            foreach (var file in parse.GetValue(files)!)
            {
                GoldenResult result;
                try
                {
                    result = GoldenCheck.Run(file.FullName, parse.GetValue(tolerance), parse.GetValue(impl));
                }
                catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"{file.FullName}: error: {e.Message}");
                    allPassed = false;
                    continue;
                }
                Console.WriteLine($"{file.Name}  ({result.Description})");
                foreach (var c in result.Comparisons)
                {
                    bool summary = c.Name is "features" or "logits" or "loss";
                    if (summary || parse.GetValue(verbose) || !c.Passed)
                        Console.WriteLine($"  {(c.Passed ? "ok  " : "FAIL")}  {c.Name,-55} max rel err {Fmt(c.MaxRelativeError)}");
                }
                var grads = result.Comparisons.Where(c => c.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
                if (grads.Count > 0)
                {
                    var worst = grads.MaxBy(c => c.MaxRelativeError)!;
                    Console.WriteLine($"  {(grads.All(g => g.Passed) ? "ok  " : "FAIL")}  {grads.Count} gradients, worst {worst.Name,-33} max rel err {Fmt(worst.MaxRelativeError)}");
                }
                Console.WriteLine($"  {(result.Passed ? "PASS" : "FAIL")}  worst {Fmt(result.Worst.MaxRelativeError)} (tolerance {Fmt(parse.GetValue(tolerance))})");
                allPassed &= result.Passed;
            }
            return allPassed ? 0 : 1;
        });
        return command;
    }

    private static string Fmt(double v) => v.ToString("0.00e+00", CultureInfo.InvariantCulture);
}
