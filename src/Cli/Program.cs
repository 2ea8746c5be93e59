using System.CommandLine;
using VisionRwkv.Cli.Commands;

namespace VisionRwkv.Cli;

/// <summary>The <c>rwkv</c> command: a thin declarative layer; every command's work lives in the libraries.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Runtime.NativeRuntime.Prepare();        // before anything loads LibTorch or allocates a tensor
        var root = new RootCommand("Vision-RWKV for .NET: train, evaluate, run and benchmark Vision-RWKV image classifiers on TorchSharp.");
        foreach (var command in CommandCatalog.All(KernelSwitches.FromEnvironment()))
            root.Subcommands.Add(command);
        // Errors reach the user as one line naming the file and the problem; RWKV_DEBUG=1 shows the stack as well.
        bool debug = Environment.GetEnvironmentVariable("RWKV_DEBUG") == "1";
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = debug });
        }
        catch (Exception e) when (!debug && e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"rwkv: error: {e.Message}");
            return 1;
        }
    }
}
