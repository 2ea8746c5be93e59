using System.CommandLine;

namespace VisionRwkv.Cli.Commands.Detect;

/// <summary><c>rwkv detect</c>: the Vision-RWKV object detector (simple feature pyramid + FCOS head).</summary>
internal static class DetectCommand
{
    public static Command Create(VisionRwkv.Runtime.KernelOptions kernels)
    {
        var command = new Command("detect", "Object detection: a Vision-RWKV backbone with a ViTDet-style pyramid and an FCOS head; COCO metrics as pycocotools computes them.");
        command.Subcommands.Add(DetectTrainCommand.Create(kernels));
        command.Subcommands.Add(DetectEvalCommand.Create());
        command.Subcommands.Add(DetectPredictCommand.Create());
        return command;
    }
}
