using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;
using VisionRwkv.Datasets.Imaging;
using VisionRwkv.Datasets.Sources;

namespace VisionRwkv.Datasets.Tests;

public sealed class SourceTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Png(string rel, byte shade = 100)
    {
        using var bmp = TestFiles.Bitmap(8, 6, (_, _) => new SKColor(shade, shade, shade));
        return TestFiles.Encode(bmp, dir.File(rel), SKEncodedImageFormat.Png);
    }

    [Fact]
    public void Image_folder_uses_the_leaf_folder_as_class_recursively_with_sorted_ids()
    {
        Png("root/zebra/1.png");
        Png("root/apple/2.png");
        Png("root/apple/3.png");
        Png("root/nested/deep/cat/4.png");
        Png("root/top.png");
        File.WriteAllText(dir.File("root/apple/notes.txt"), "not an image");
        var ds = new ImageFolderDataset(dir.File("root"));
        Assert.Equal(["apple", "cat", "zebra"], ds.Classes.Names);
        Assert.Equal(4, ds.Count);
        Assert.Single(ds.Ignored);
        var byName = Enumerable.Range(0, ds.Count).ToDictionary(i => Path.GetFileName(ds.NameOf(i)), i => ds.Classes[ds.LabelsOf(i)[0]]);
        Assert.Equal("cat", byName["4.png"]);
        Assert.Equal("zebra", byName["1.png"]);
        Assert.Equal((3, 6, 8), (ds.Load(0, DecodeOptions.Default).Channels, ds.Load(0, DecodeOptions.Default).Height, ds.Load(0, DecodeOptions.Default).Width));
        // Same folder, same order and ids on every scan.
        var again = new ImageFolderDataset(dir.File("root"));
        Assert.Equal(Enumerable.Range(0, 4).Select(ds.NameOf), Enumerable.Range(0, 4).Select(again.NameOf));
    }

    [Fact]
    public void Class_map_round_trips_through_json()
    {
        var map = ClassMap.FromNames(["b", "a", "c", "a"]);
        Assert.Equal(["a", "b", "c"], map.Names);
        var path = dir.File("run/classes.json");
        map.Save(path);
        Assert.Contains("\"classes\"", File.ReadAllText(path));
        Assert.Equal(map.Names, ClassMap.Load(path).Names);
        Assert.Empty(Directory.GetFiles(dir.File("run"), "*.tmp"));
        File.WriteAllText(dir.File("bad.json"), "{ nope");
        var e = Assert.Throws<InvalidDataException>(() => ClassMap.Load(dir.File("bad.json")));
        Assert.Contains("bad.json", e.Message);
    }

    [Fact]
    public void Csv_manifest_reads_paths_labels_groups_and_quotes()
    {
        Png("imgs/a.png");
        Png("imgs/b, c.png");
        File.WriteAllText(dir.File("m.csv"), "path,label,group\nimgs/a.png,dog,p1\n\"imgs/b, c.png\",\"cat\",p2\n");
        var ds = ManifestDataset.Open(dir.File("m.csv"));
        Assert.False(ds.IsMultiLabel);
        Assert.Equal(["cat", "dog"], ds.Classes.Names);
        Assert.Equal(dir.File("imgs/b, c.png"), ds.NameOf(1));
        Assert.Equal("p2", ds.GroupOf(1));
        Assert.Equal([1], ds.LabelsOf(0));
        Assert.Equal(8, ds.Load(1, DecodeOptions.Default).Width);
    }

    [Fact]
    public void A_quoted_newline_stays_inside_its_field_and_errors_count_physical_lines()
    {
        Png("imgs/a.png");
        File.WriteAllText(dir.File("m.csv"), "path,label,note\nimgs/a.png,dog,\"two\nlines, and \"\"quotes\"\"\"\nimgs/a.png,cat,x\n");
        var ds = ManifestDataset.Open(dir.File("m.csv"));
        Assert.Equal(2, ds.Count);
        Assert.Equal(["cat", "dog"], ds.Classes.Names);
        Assert.Equal([0], ds.LabelsOf(1));
        // The record after a two-line record starts on line 4.
        File.WriteAllText(dir.File("bad.csv"), "path,label,note\na.png,dog,\"two\nlines\"\nb.png,cat\n");
        Assert.Contains("bad.csv:4", Assert.Throws<InvalidDataException>(() => ManifestDataset.Open(dir.File("bad.csv"))).Message);
    }

    [Fact]
    public void Csv_manifest_with_a_labels_column_is_multi_label()
    {
        File.WriteAllText(dir.File("m.csv"), "path,labels,patient_id\nx.png,Effusion|Edema,17\ny.png,,18\nz.png,Edema,17\n");
        var ds = ManifestDataset.Open(dir.File("m.csv"), new ManifestOptions { GroupField = "patient_id" });
        Assert.True(ds.IsMultiLabel);
        Assert.Equal(["Edema", "Effusion"], ds.Classes.Names);
        Assert.Equal([1, 0], ds.LabelsOf(0));
        Assert.Empty(ds.LabelsOf(1));
        Assert.Equal("17", ds.GroupOf(2));
    }

    [Fact]
    public void Jsonl_manifest_reads_single_and_multi_label_rows()
    {
        File.WriteAllText(dir.File("m.jsonl"), "{\"path\": \"a.png\", \"label\": \"x\", \"group\": 5}\n\n{\"path\": \"b.png\", \"label\": \"y\"}\n");
        var ds = ManifestDataset.Open(dir.File("m.jsonl"));
        Assert.Equal(2, ds.Count);
        Assert.Equal("5", ds.GroupOf(0));
        Assert.Null(ds.GroupOf(1));
        File.WriteAllText(dir.File("n.jsonl"), "{\"path\": \"a.png\", \"labels\": [\"x\", \"z\"]}\n");
        var multi = ManifestDataset.Open(dir.File("n.jsonl"));
        Assert.True(multi.IsMultiLabel);
        Assert.Equal([0, 1], multi.LabelsOf(0));
    }

    [Fact]
    public void Manifest_errors_name_the_file_and_line()
    {
        File.WriteAllText(dir.File("nolabel.csv"), "path,other\na.png,1\n");
        Assert.Contains("nolabel.csv", Assert.Throws<InvalidDataException>(() => ManifestDataset.Open(dir.File("nolabel.csv"))).Message);
        File.WriteAllText(dir.File("short.csv"), "path,label,group\na.png,x,g\nb.png\n");
        Assert.Contains("short.csv:3", Assert.Throws<InvalidDataException>(() => ManifestDataset.Open(dir.File("short.csv"))).Message);
        File.WriteAllText(dir.File("bad.jsonl"), "{\"path\": \"a.png\", \"label\": \"x\"}\n{oops\n");
        Assert.Contains("bad.jsonl:2", Assert.Throws<InvalidDataException>(() => ManifestDataset.Open(dir.File("bad.jsonl"))).Message);
        File.WriteAllText(dir.File("unknown.csv"), "path,label\na.png,x\n");
        var fixedMap = new ManifestOptions { Classes = new ClassMap(["y"]) };
        Assert.Contains("unknown.csv:2", Assert.Throws<InvalidDataException>(() => ManifestDataset.Open(dir.File("unknown.csv"), fixedMap)).Message);
    }

    internal static void WriteIdx(string imagesPath, string labelsPath, byte[][] images, byte[] labels, int h, int w, bool gzip)
    {
        var img = new byte[16 + images.Length * h * w];
        BinaryPrimitives.WriteInt32BigEndian(img, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(4), images.Length);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(8), h);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(12), w);
        for (var i = 0; i < images.Length; i++)
            images[i].CopyTo(img, 16 + i * h * w);
        var lab = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(lab, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(lab.AsSpan(4), labels.Length);
        labels.CopyTo(lab, 8);
        Write(imagesPath, img, gzip);
        Write(labelsPath, lab, gzip);
    }

    private static void Write(string path, byte[] data, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, data);
            return;
        }
        using var fs = File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        gz.Write(data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_files_parse_gzipped_or_not(bool gzip)
    {
        byte[][] images = [[0, 255, 128, 1, 2, 3], [9, 9, 9, 9, 9, 9], [255, 0, 0, 0, 0, 255]];
        WriteIdx(dir.File("i.idx"), dir.File("l.idx"), images, [2, 0, 1], 2, 3, gzip);
        var ds = new IdxDataset(dir.File("i.idx"), dir.File("l.idx"));
        Assert.Equal((3, 2, 3), (ds.Count, ds.Height, ds.Width));
        Assert.Equal(["0", "1", "2"], ds.Classes.Names);
        Assert.Equal([2], ds.LabelsOf(0));
        var img = ds.Load(0, DecodeOptions.Default);
        Assert.Equal((1, 2, 3), (img.Channels, img.Height, img.Width));
        float[] expected = [0f, 1f, 128 / 255f, 1 / 255f, 2 / 255f, 3 / 255f];
        for (var i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], img.Data[i], 1e-6f);
    }

    [Fact]
    public void Truncated_idx_files_are_reported_with_their_path()
    {
        WriteIdx(dir.File("i.idx"), dir.File("l.idx"), [[1, 2, 3, 4]], [0], 2, 2, false);
        var bytes = File.ReadAllBytes(dir.File("i.idx"));
        File.WriteAllBytes(dir.File("i.idx"), bytes[..^2]);
        var e = Assert.Throws<InvalidDataException>(() => new IdxDataset(dir.File("i.idx"), dir.File("l.idx")));
        Assert.Contains("i.idx", e.Message);
        File.WriteAllBytes(dir.File("l2.idx"), [0, 0, 8, 3, 0, 0, 0, 1, 5]);
        Assert.Contains("l2.idx", Assert.Throws<InvalidDataException>(() => new IdxDataset(dir.File("i.idx"), dir.File("l2.idx"))).Message);
    }

    [SkippableFact]
    public void Real_fashion_mnist_has_60000_train_and_10000_test_images_balanced_over_10_classes()
    {
        Skip.If(IdxDataset.FindFashionMnist() is null, "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist or ~/.cache/rwkv/fashion-mnist (apt install dataset-fashion-mnist).");
        var train = IdxDataset.FashionMnist(train: true);
        var test = IdxDataset.FashionMnist(train: false);
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal((28, 28), (train.Height, train.Width));
        Assert.Equal("Ankle boot", train.Classes[9]);
        // The published class balance: 6000 per class in train, 1000 in test.
        Assert.All(Enumerable.Range(0, train.Count).GroupBy(train.Label), g => Assert.Equal(6000, g.Count()));
        Assert.All(Enumerable.Range(0, test.Count).GroupBy(test.Label), g => Assert.Equal(1000, g.Count()));
        var img = train.Load(0, DecodeOptions.Default);
        Assert.Equal(28 * 28, img.Data.Length);
        Assert.Contains(img.Data, v => v > 0.5f);
    }
}
