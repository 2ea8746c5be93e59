using System.CommandLine;
using VisionRwkv.Cli.Commands.Bench;

namespace VisionRwkv.Cli.Commands;

/// <summary>Every top-level command, in the order <c>rwkv --help</c> lists them.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return TrainCommand.Create();
        yield return EvalCommand.Create();
        yield return PredictCommand.Create();
        yield return InfoCommand.Create();
        yield return ModelsCommand.Create();
        yield return GoldenCommand.Create();
        yield return BenchCommand.Create();
        yield return ConvertCommand.Create();
        yield return Text.TextCommand.Create();
    }
}
