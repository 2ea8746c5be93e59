using VisionRwkv.Datasets.Sources;
using VisionRwkv.Models;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>What <see cref="ExplainJob.Run"/> wrote and what it could not read.</summary>
public sealed record ExplainResult(IReadOnlyList<string> Written, IReadOnlyList<string> Skipped);

/// <summary>
/// <c>rwkv explain</c>'s work: for each image and method, the saliency map of the chosen (or top) label written as a
/// PNG overlay into a folder. Never replaces a file: an existing name gets a numbered suffix (<c>x.gradcam-1.png</c>).
/// Unreadable images are listed and skipped.
/// </summary>
public static class ExplainJob
{
    /// <summary>The methods a model supports, for "all": the WKV map needs Vision-RWKV.</summary>
    public static IReadOnlyList<SaliencyMethod> AllFor(IImageClassifier model) =>
        model is VrwkvClassifier
            ? [SaliencyMethod.GradCam, SaliencyMethod.Wkv, SaliencyMethod.Occlusion]
            : [SaliencyMethod.GradCam, SaliencyMethod.Occlusion];

    /// <param name="model">The classifier (in eval mode).</param>
    /// <param name="classes">Its class names, for the file names and messages.</param>
    /// <param name="images">Image files.</param>
    /// <param name="label">Label to explain; null = each image's top predicted label.</param>
    /// <param name="methods">Methods, each giving one PNG per image.</param>
    /// <param name="outputFolder">Folder for the PNGs (created).</param>
    /// <param name="options">Method settings.</param>
    /// <param name="progress">Called with each written file.</param>
    public static ExplainResult Run(IImageClassifier model, ClassMap classes, IEnumerable<string> images, int? label,
        IReadOnlyList<SaliencyMethod> methods, string outputFolder, SaliencyOptions? options = null, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(methods);
        Directory.CreateDirectory(outputFolder);
        var written = new List<string>();
        var skipped = new List<string>();
        foreach (var path in images)
        {
            PreparedImage prepared;
            try
            {
                prepared = PreparedImage.Load(path, model.Data);
            }
            catch (IOException e)
            {
                skipped.Add($"{path}: {e.Message}");
                continue;
            }
            using var scope = NewDisposeScope();
            var input = prepared.Input;
            var x = tensor(input.Data, [input.Channels, input.Height, input.Width]);
            int target = label ?? Saliency.TopLabel(model, x);
            foreach (var method in methods)
            {
                var map = Saliency.Map(model, x, target, method, options);
                var file = FreeName(outputFolder, $"{Path.GetFileNameWithoutExtension(path)}.{Safe(classes[target])}.{Name(method)}", ".png");
                SaliencyOverlay.WritePng(file, input.Data, input.Channels, map, model.Data);
                written.Add(file);
                progress?.Invoke(file);
            }
        }
        return new ExplainResult(written, skipped);
    }

    /// <summary>The command-line name of a method.</summary>
    public static string Name(SaliencyMethod method) => method switch
    {
        SaliencyMethod.GradCam => "gradcam",
        SaliencyMethod.Wkv => "wkv",
        SaliencyMethod.Occlusion => "occlusion",
        _ => method.ToString().ToLowerInvariant(),
    };

    /// <summary><paramref name="stem"/> + extension, or with -1, -2, ... appended when that file exists.</summary>
    public static string FreeName(string folder, string stem, string extension)
    {
        var path = Path.Combine(folder, stem + extension);
        for (int i = 1; File.Exists(path); i++)
            path = Path.Combine(folder, $"{stem}-{i}{extension}");
        return path;
    }

    private static string Safe(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
