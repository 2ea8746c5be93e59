using System.Reflection;
using System.Text.RegularExpressions;
using VisionRwkv.Tests.Checkpoints;

namespace VisionRwkv.Tests.Architecture;

/// <summary>
/// The layering drawn in the README, enforced: each rule names a layer (by namespace) and the namespaces it must not use.
/// The source check reads every file under src/ (its namespace, its usings and any fully qualified names); the assembly
/// check reads the compiled references. A forbidden dependency added anywhere fails here with the file that adds it.
/// </summary>
public sealed partial class LayeringTests
{
    /// <summary>(layer, forbidden namespaces, why).</summary>
    public static TheoryData<string, string[], string> Rules => new()
    {
        { "VisionRwkv.Common", ["VisionRwkv.Datasets", "VisionRwkv.Wkv", "VisionRwkv.Layers", "VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli", "TorchSharp"], "neutral helpers know nothing above them" },
        { "VisionRwkv.Datasets", ["VisionRwkv.Wkv", "VisionRwkv.Layers", "VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Checkpoints", "VisionRwkv.Cli"], "data knows no model" },
        { "VisionRwkv.Runtime", ["VisionRwkv.Cuda", "VisionRwkv.Wkv", "VisionRwkv.Layers", "VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "the runtime is the bottom" },
        { "VisionRwkv.Cuda", ["VisionRwkv.Wkv", "VisionRwkv.Layers", "VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "the CUDA runtime serves WKV, layers and training alike" },
        { "VisionRwkv.Wkv", ["VisionRwkv.Layers", "VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Diagnostics", "VisionRwkv.Cli"], "the WKV core stands alone" },
        { "VisionRwkv.Layers", ["VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "layers sit below blocks and models" },
        { "VisionRwkv.Blocks", ["VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "blocks sit below the models that stack them" },
        { "VisionRwkv.Models", ["VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "a model knows no trainer or command line" },
        { "VisionRwkv.Checkpoints", ["VisionRwkv.Models", "VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "checkpoint files know no model or trainer" },
        { "VisionRwkv.Training", ["VisionRwkv.Runs", "VisionRwkv.Cli"], "the engine knows no command line" },
        { "VisionRwkv.Runs", ["VisionRwkv.Cli"], "the run API is what the command line calls" },
        { "VisionRwkv.Text", ["VisionRwkv.Blocks", "VisionRwkv.Models", "VisionRwkv.Runs", "VisionRwkv.Cli"], "the text model shares the WKV core and layers, not the vision models" },
        { "VisionRwkv.Detection", ["VisionRwkv.Runs", "VisionRwkv.Cli"], "detection knows no command line" },
        { "VisionRwkv.Labeling", ["VisionRwkv.Cli"], "the labeling job is library code the CLI calls" },
        { "VisionRwkv.Explain", ["VisionRwkv.Training", "VisionRwkv.Runs", "VisionRwkv.Cli"], "saliency reads a model; it knows no trainer, run folder or command line" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void No_source_file_of_a_layer_uses_a_namespace_above_it(string layer, string[] forbidden, string why)
    {
        var violations = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                continue;
            var text = File.ReadAllText(file);
            var ns = Namespace().Match(text);
            if (!ns.Success || !InLayer(ns.Groups[1].Value, layer))
                continue;
            foreach (var f in forbidden)
            {
                // A using directive (plain, static or alias) or a qualified name in code.
                var pattern = new Regex($@"^\s*using\s+(static\s+)?(\w+\s*=\s*)?{Regex.Escape(f)}(\.|;)|[^\w.]{Regex.Escape(f)}\.[A-Z]", RegexOptions.Multiline);
                if (pattern.IsMatch(text))
                    violations.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)} ({ns.Groups[1].Value}) uses {f}");
            }
        }
        Assert.True(violations.Count == 0, $"{layer}: {why}:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void Every_source_file_belongs_to_a_known_layer()
    {
        var layers = Rules.Select(r => (string)r[0]).Concat(["VisionRwkv.Checkpoints", "VisionRwkv.Diagnostics", "VisionRwkv.Benchmarks", "VisionRwkv.Cli", "VisionRwkv.Detection", "VisionRwkv.Text", "VisionRwkv.Labeling", "VisionRwkv.Medical"]).ToList();
        var unknown = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (File: f, Match: Namespace().Match(File.ReadAllText(f))))
            .Where(x => x.Match.Success && !layers.Any(l => InLayer(x.Match.Groups[1].Value, l)))
            .Select(x => $"{Path.GetRelativePath(TestPaths.RepoRoot, x.File)}: {x.Match.Groups[1].Value}")
            .ToList();
        Assert.True(unknown.Count == 0, "files outside every layer (add the layer to the rules):\n" + string.Join("\n", unknown));
    }

    [Fact]
    public void The_data_and_common_assemblies_do_not_reference_the_model_or_command_line_assemblies()
    {
        var datasets = typeof(VisionRwkv.Datasets.DataConfig).Assembly;
        var common = typeof(VisionRwkv.Common.AtomicFile).Assembly;
        var library = typeof(VisionRwkv.Training.Trainer).Assembly;
        static string[] Refs(Assembly a) => a.GetReferencedAssemblies().Select(r => r.Name!).ToArray();
        Assert.DoesNotContain(library.GetName().Name, Refs(datasets));
        Assert.DoesNotContain("rwkv", Refs(datasets));
        Assert.DoesNotContain(datasets.GetName().Name, Refs(common));
        Assert.DoesNotContain(library.GetName().Name, Refs(common));
        Assert.DoesNotContain("TorchSharp", Refs(common));
        Assert.DoesNotContain("rwkv", Refs(library));
    }

    private static bool InLayer(string ns, string layer) => ns == layer || ns.StartsWith(layer + ".", StringComparison.Ordinal);

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Namespace();
}
