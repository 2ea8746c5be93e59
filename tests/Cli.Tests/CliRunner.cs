namespace VisionRwkv.Cli.Tests;

/// <summary>Runs the rwkv command in-process and captures what it prints. Console is global, so callers serialise.</summary>
internal static class CliRunner
{
    private static readonly Lock Gate = new();

    public static (int Code, string Output) Run(string[] args)
    {
        lock (Gate)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            using var writer = new StringWriter();
            Console.SetOut(writer);
            Console.SetError(writer);
            try
            {
                int code = Program.Main(args);
                return (code, writer.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
