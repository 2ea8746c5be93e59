using System.CommandLine;
using VisionRwkv.Cli.Commands;

namespace VisionRwkv.Cli;

/// <summary>The <c>rwkv</c> command: a thin declarative layer; every command's work lives in the libraries.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Vision-RWKV for .NET: train, evaluate and run RWKV vision and text models on TorchSharp.");
        foreach (var command in CommandCatalog.All())
            root.Subcommands.Add(command);
        return root.Parse(args).Invoke();
    }
}
