using System.CommandLine;
using TorchSharp;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv info</c>: what the toolkit runs on (TorchSharp, LibTorch, devices, threads).</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the TorchSharp/LibTorch build, available devices and thread count.");
        command.SetAction(_ =>
        {
            Console.WriteLine($"TorchSharp      {typeof(torch).Assembly.GetName().Version}");
            Console.WriteLine($"CUDA available  {torch.cuda.is_available()}");
            if (torch.cuda.is_available())
                Console.WriteLine($"CUDA devices    {torch.cuda.device_count()}");
            Console.WriteLine($"CPU threads     {torch.get_num_threads()}");
            return 0;
        });
        return command;
    }
}
