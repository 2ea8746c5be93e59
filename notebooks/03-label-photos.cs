// Notebook 3: labeling a photo collection with the library API. Run it with:  dotnet run --file notebooks/03-label-photos.cs
// It makes a small "collection" in a temporary folder, labels it with a (randomly initialised, so the labels mean
// nothing) tiny model, resumes, writes exports and shows the XMP sidecar plan. With a real model use a run folder of
// `rwkv train`, or ClassifierLabeler.FromCheckpoint(checkpoint, "vrwkv_t", "imagenet_classes.txt").
#:project ../src/VisionRwkv/VisionRwkv.csproj
#:property TreatWarningsAsErrors=false
using SkiaSharp;
using VisionRwkv.Labeling;
using VisionRwkv.Models;
using static TorchSharp.torch;

var root = Path.Combine(Path.GetTempPath(), $"rwkv-notebook-3-{Guid.NewGuid():N}");
var photos = Path.Combine(root, "photos");
try
{
    // ## 1. A collection: JPEGs and PNGs in folders, plus the kinds of files a real archive holds.
    for (var i = 0; i < 24; i++)
    {
        var path = Path.Combine(photos, $"{2020 + i % 3}", $"IMG_{i:D4}.{(i % 4 == 0 ? "png" : "jpg")}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bmp = new SKBitmap(64, 48);
        bmp.Erase(new SKColor((byte)(i * 10), (byte)(200 - i * 5), 90));
        using var data = bmp.Encode(i % 4 == 0 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg, 90);
        File.WriteAllBytes(path, data.ToArray());
    }
    File.WriteAllBytes(Path.Combine(photos, "2020", "IMG_9999.HEIC"), [0, 0, 0, 0x18, .. "ftypheic"u8, 0, 0, 0, 0]);
    File.WriteAllBytes(Path.Combine(photos, "2021", "broken.jpg"), [0xFF, 0xD8, 0xFF]);

    // ## 2. A labeler: any classifier module + label names + its input config. The job needs nothing else.
    string[] names = ["beach", "city", "forest", "mountain", "portrait", "snow", "sunset", "food", "pet", "document"];
    manual_seed(1);
    var entry = ModelRegistry.Get("vrwkv_mini_32");
    using var labeler = new ClassifierLabeler(entry.Create(names.Length), "vrwkv_mini_32@notebook", names, entry.Data);

    // ## 3. Label: one journal row per file (labeled, skipped with a reason, or unsupported), written per batch.
    var options = new LabelOptions
    {
        OutputDirectory = Path.Combine(root, "out"),
        TopK = 3,
        BatchSize = 8,
        Xmp = new XmpOptions { MinScore = 0.05f, DryRun = true },
    };
    var summary = LabelJob.Run(labeler, [photos], options);
    Console.WriteLine($"found {summary.Found}, processed {summary.Processed} in {summary.Seconds:F1} s");
    foreach (var (outcome, n) in summary.Outcomes)
        Console.WriteLine($"  {outcome,-24} {n}");
    Console.WriteLine($"xmp (dry run): {summary.Xmp!.Created} sidecars would be created, e.g. {summary.Xmp.Planned.FirstOrDefault()}");

    // ## 4. Resume: a second run finds every file in the journal and does nothing.
    var again = LabelJob.Run(labeler, [photos], options);
    Console.WriteLine($"second run: {again.AlreadyDone} already done, {again.Processed} processed");
    if (again.Processed != 0) throw new InvalidOperationException("a finished job was redone");

    // ## 5. The journal and its exports.
    using (var journal = Journal.Open(summary.JournalPath))
    {
        foreach (var row in journal.ReadAll().Take(3))
            Console.WriteLine($"{Path.GetRelativePath(photos, row.Path),-22} {row.Status,-9} {string.Join(", ", row.Labels.Select(l => $"{l.Label} {l.Score:F2}"))}");
        foreach (var file in JournalExport.WriteAll(journal, ["csv", "parquet"]))
            Console.WriteLine($"export {Path.GetFileName(file)} ({new FileInfo(file).Length} bytes)");
    }

    // ## 6. Shards: two halves labeled separately (as two machines would), merged back into one journal.
    foreach (var i in new[] { 0, 1 })
        LabelJob.Run(labeler, [photos], options with { OutputDirectory = Path.Combine(root, "sharded"), Shard = new Shard(i, 2), Xmp = null });
    var merged = JournalMerge.Merge(JournalMerge.Find([Path.Combine(root, "sharded")]), Path.Combine(root, "sharded", "labels.sqlite"));
    Console.WriteLine($"merged {merged.Sources} shard journals: {merged.RowsWritten} rows");
}
finally
{
    if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
}
