using System.CommandLine;

namespace VisionRwkv.Cli.Commands.Bench;

/// <summary><c>rwkv bench</c>: benchmark commands that print numbers and write JSON (never timed unit tests).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks: print a table and optionally write JSON records.");
        foreach (var sub in Subcommands())
            command.Subcommands.Add(sub);
        return command;
    }

    private static IEnumerable<Command> Subcommands()
    {
        yield return BenchWkvCommand.Create();
        yield return BenchDataCommand.Create();
        yield return BenchModelCommand.Create();
        yield return BenchTextCommand.Create();
    }
}
