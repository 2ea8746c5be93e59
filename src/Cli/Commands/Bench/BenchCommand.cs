using System.CommandLine;
using VisionRwkv.Runtime;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary><c>rwkv bench</c>: benchmark commands that print numbers and write JSON (never timed unit tests).</summary>
internal static class BenchCommand
{
    public static Command Create(KernelOptions kernels)
    {
        var command = new Command("bench", "Benchmarks: print a table and optionally write JSON records.");
        foreach (var sub in Subcommands(kernels))
            command.Subcommands.Add(sub);
        return command;
    }

    private static IEnumerable<Command> Subcommands(KernelOptions kernels)
    {
        yield return BenchWkvCommand.Create(kernels);
        yield return BenchDataCommand.Create();
        yield return BenchModelCommand.Create(kernels);
        yield return BenchLabelCommand.Create();
        yield return BenchTextCommand.Create();
    }
}
