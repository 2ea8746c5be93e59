using System.CommandLine;
using VisionRwkv.Cli.Commands.Bench;
using VisionRwkv.Runtime;

namespace VisionRwkv.Cli.Commands;

/// <summary>Every top-level command, in the order <c>rwkv --help</c> lists them.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All(KernelOptions kernels)
    {
        yield return TrainCommand.Create(kernels);
        yield return EvalCommand.Create();
        yield return PredictCommand.Create();
        yield return ExplainCommand.Create();
        yield return LabelCommand.Create();
        yield return InfoCommand.Create();
        yield return ModelsCommand.Create();
        yield return GoldenCommand.Create();
        yield return BenchCommand.Create(kernels);
        yield return ConvertCommand.Create();
        yield return DicomCommand.Create();
        yield return XrayCommand.Create();
        yield return Text.TextCommand.Create(kernels);
        yield return Detect.DetectCommand.Create(kernels);
    }
}
