namespace VisionRwkv.Cli.Commands;

/// <summary>How command groups report a user's mistake: one line naming the command, exit code 1.</summary>
internal static class CommandErrors
{
    /// <summary>Prints "rwkv COMMAND: MESSAGE" to standard error and returns exit code 1.</summary>
    public static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"rwkv {command}: {message}");
        return 1;
    }

    /// <summary>Errors that come from the user's input (files, options, data), not from a bug: reported in one line.</summary>
    public static bool IsUserError(Exception e) =>
        e is ArgumentException or InvalidDataException or IOException or FormatException or InvalidOperationException or NotSupportedException;
}
