using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Cli.Commands;

/// <summary><c>rwkv models</c>: the preset registry with parameter counts and the input each preset expects.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var filter = new Argument<string?>("filter") { Description = "Only names containing this text.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("models", "List the model presets: parameters, input size, channels and normalisation.") { filter };
        command.SetAction(parse =>
        {
            string? f = parse.GetValue(filter);
            var table = new Table().AddColumns("name", "params", "input", "mean / std", "description");
            foreach (var entry in ModelRegistry.All.Where(e => f is null || e.Name.Contains(f, StringComparison.OrdinalIgnoreCase)))
            {
                long count;
                // Build on the meta device: shapes only, no memory or init cost even for vrwkv_l.
                using (var model = WithMetaDevice(() => entry.Create(null)))
                    count = model.parameters().Sum(p => p.numel());
                var d = entry.Data;
                table.AddRow(
                    entry.Name,
                    (count / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M",
                    $"{d.Channels}x{d.Height}x{d.Width}",
                    $"{string.Join(",", d.Mean.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))} / {string.Join(",", d.Std.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))}",
                    Markup.Escape(entry.Description));
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static T WithMetaDevice<T>(Func<T> build)
    {
        set_default_device(META);
        try { return build(); }
        finally { set_default_device(CPU); }
    }
}
