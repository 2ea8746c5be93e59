using System.CommandLine;
using VisionRwkv.Checkpoints;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv convert IN OUT</c>: converts a state dict between .pth/.pt/.bin and .safetensors (format by extension).</summary>
internal static class ConvertCommand
{
    internal static Command Create()
    {
        var input = new Argument<string>("input") { Description = "Checkpoint to read (.pth, .pt, .bin, .ckpt or .safetensors)." };
        var output = new Argument<string>("output") { Description = "File to write; its extension picks the format." };
        var strip = new Option<string?>("--strip-prefix") { Description = "Remove this prefix from keys that start with it (e.g. 'module.')." };
        var add = new Option<string?>("--add-prefix") { Description = "Prepend this prefix to every key (after --strip-prefix)." };
        var force = new Option<bool>("--force") { Description = "Overwrite the output file if it exists.", DefaultValueFactory = _ => false };

        var command = new Command("convert", "Convert a checkpoint between PyTorch .pth and .safetensors, optionally renaming key prefixes.");
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        command.Options.Add(strip);
        command.Options.Add(add);
        command.Options.Add(force);
        command.SetAction(parseResult => Run(
            parseResult.GetValue(input)!,
            parseResult.GetValue(output)!,
            parseResult.GetValue(strip),
            parseResult.GetValue(add),
            parseResult.GetValue(force)));
        return command;
    }

    private static int Run(string input, string output, string? stripPrefix, string? addPrefix, bool force)
    {
        try
        {
            CheckpointIO.FormatOf(output); // reject an unknown output extension before reading a large input
            if (Path.GetFullPath(input) == Path.GetFullPath(output))
                return Fail($"{output}: input and output are the same file");
            if (File.Exists(output) && !force)
                return Fail($"{output}: already exists; pass --force to overwrite it");

            using var checkpoint = CheckpointIO.Load(input);
            var tensors = CheckpointConverter.RenamePrefixes(checkpoint.Tensors, stripPrefix, addPrefix);
            CheckpointIO.Save(output, tensors, checkpoint.Metadata);

            var bytes = tensors.Values.Sum(t => t.numel() * t.element_size());
            Console.WriteLine($"{input} -> {output}: {tensors.Count} tensors, {bytes:N0} bytes of tensor data ({bytes / 1048576.0:F1} MiB)");
            if (checkpoint.Metadata.TryGetValue("pth.wrapper", out var wrapper))
                Console.WriteLine($"state dict taken from the '{wrapper}' entry");
            return 0;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException or NotSupportedException or InvalidOperationException)
        {
            return Fail(ex.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"rwkv convert: {message}");
        return 1;
    }
}
