using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using VisionRwkv.Checkpoints;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Checkpoints;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, Tensor> EveryDtype()
    {
        using var _ = no_grad();
        return new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 4),
            ["f64"] = randn(2, 2, dtype: ScalarType.Float64),
            ["f16"] = randn(5, dtype: ScalarType.Float16),
            ["bf16"] = randn(2, 3, dtype: ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["i32"] = tensor(new int[] { int.MinValue, 7, int.MaxValue }),
            ["i16"] = tensor(new short[] { short.MinValue, 3, short.MaxValue }),
            ["i8"] = tensor(new sbyte[] { -128, 0, 127 }),
            ["u8"] = tensor(new byte[] { 0, 1, 255 }),
            ["bool"] = tensor(new bool[] { true, false, true }),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 7),
            // A transposed (non-contiguous) input must be written in its logical row-major order.
            ["transposed"] = arange(12, dtype: ScalarType.Float32).reshape(3, 4).t(),
        };
    }

    [Fact]
    public void Every_dtype_round_trips_with_shape_values_and_metadata()
    {
        var path = Path.Combine(dir, "all.safetensors");
        var tensors = EveryDtype();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafeTensors.Write(path, tensors, meta);

        using var file = SafeTensors.Read(path);
        Assert.Equal(tensors.Keys, file.Tensors.Keys);
        foreach (var (name, expected) in tensors)
        {
            var actual = file.Tensors[name];
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(TensorAssert.SameValues(expected, actual), $"{name} differs after the round trip");
        }
        Assert.Equal(meta, file.Metadata);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, file.Tensors["transposed"].data<float>().ToArray());
        foreach (var t in tensors.Values)
            t.Dispose();
    }

    [Fact]
    public void Written_file_follows_the_format_byte_for_byte()
    {
        var path = Path.Combine(dir, "layout.safetensors");
        using var a = tensor(new float[] { 1, 2, 3 });
        using var b = tensor(new short[] { -2 });
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });

        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        Assert.Equal(8 + headerLength + 12 + 2, bytes.Length);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var ea = header.RootElement.GetProperty("a");
        Assert.Equal("F32", ea.GetProperty("dtype").GetString());
        Assert.Equal(new[] { 3L }, ea.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal(new[] { 0L, 12L }, ea.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal(new[] { 12L, 14L }, header.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        // IEEE-754 little-endian 1.0f = 00 00 80 3F; int16 -2 = FE FF.
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F }, bytes.AsSpan(8 + headerLength, 4).ToArray());
        Assert.Equal(new byte[] { 0xFE, 0xFF }, bytes.AsSpan(8 + headerLength + 12, 2).ToArray());
    }

    [Fact]
    public void Writing_replaces_an_existing_file_and_leaves_no_temporary_files()
    {
        var path = Path.Combine(dir, "w.safetensors");
        File.WriteAllText(path, "old contents");
        using var a = ones(2);
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a });
        Assert.Equal(new[] { path }, Directory.GetFiles(dir));
        using var file = SafeTensors.Read(path);
        Assert.True(TensorAssert.SameValues(a, file.Tensors["a"]));
    }

    [Fact]
    public void Tensors_read_inside_a_dispose_scope_belong_to_the_file_not_the_scope()
    {
        var path = Path.Combine(dir, "s.safetensors");
        using (var a = ones(3))
            SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a });
        Checkpoint file;
        using (NewDisposeScope())
            file = SafeTensors.Read(path);
        using (file)
            Assert.Equal(3f, file.Tensors["a"].sum().item<float>());
    }

    private string WriteRaw(string name, string headerJson, int dataBytes, ulong? headerLengthOverride = null)
    {
        var path = Path.Combine(dir, name);
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertBad(string path, params string[] words)
    {
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        foreach (var w in words)
            Assert.Contains(w, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_shorter_than_the_length_field_is_rejected()
    {
        var path = Path.Combine(dir, "short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        AssertBad(path, "3 bytes");
    }

    [Fact]
    public void A_header_length_beyond_the_file_is_rejected()
    {
        AssertBad(WriteRaw("len.safetensors", "{}", 0, headerLengthOverride: 1_000_000), "header length 1000000 exceeds");
    }

    [Fact]
    public void A_header_that_is_not_json_is_rejected()
    {
        AssertBad(WriteRaw("json.safetensors", "{\"a\": [1,", 0), "not valid JSON");
    }

    [Fact]
    public void Offsets_past_the_data_section_are_rejected()
    {
        AssertBad(WriteRaw("trunc.safetensors", """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8),
            "'a'", "run past the 8-byte data section");
    }

    [Fact]
    public void Overlapping_tensors_are_rejected()
    {
        AssertBad(WriteRaw("overlap.safetensors",
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12),
            "overlap");
    }

    [Fact]
    public void A_byte_length_that_disagrees_with_dtype_and_shape_is_rejected()
    {
        AssertBad(WriteRaw("size.safetensors", """{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}""", 8),
            "'a'", "needs 12 bytes", "span 8");
    }

    [Fact]
    public void An_unknown_dtype_is_rejected()
    {
        AssertBad(WriteRaw("dtype.safetensors", """{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}""", 1),
            "unsupported dtype 'F8_E4M3'");
    }

    [Fact]
    public void Non_string_metadata_is_rejected()
    {
        AssertBad(WriteRaw("meta.safetensors", """{"__metadata__":{"epoch":3}}""", 0), "__metadata__.epoch", "must be a string");
    }

    [Fact]
    public void A_negative_dimension_is_rejected()
    {
        AssertBad(WriteRaw("neg.safetensors", """{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}""", 0), "non-negative");
    }

    [VrwkvGoldenFact]
    public void The_vision_rwkv_goldens_read_with_their_documented_tensors_and_metadata()
    {
        var files = Directory.GetFiles(TestPaths.VrwkvExactDir, "*.safetensors");
        Assert.NotEmpty(files);
        foreach (var path in files)
        {
            using var file = SafeTensors.Read(path);
            var input = file.Tensors["input"];
            Assert.Equal(4, input.dim());
            Assert.Equal(ScalarType.Float32, input.dtype);
            Assert.Equal(ScalarType.Int64, file.Tensors["labels"].dtype);
            Assert.Equal(input.shape[0], file.Tensors["labels"].shape[0]);

            using var meta = JsonDocument.Parse(file.Metadata["meta"]);
            var backbone = meta.RootElement.GetProperty("backbone");
            var embedDims = backbone.GetProperty("embed_dims").GetInt64();
            var res = meta.RootElement.GetProperty("res").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(res, input.shape[2..]);
            Assert.Equal(embedDims, file.Tensors["features"].shape[^1]);
            Assert.Equal(meta.RootElement.GetProperty("num_classes").GetInt64(), file.Tensors["head.fc.weight"].shape[0]);
            Assert.Equal(new[] { embedDims }, file.Tensors["backbone.ln1.weight"].shape);
            Assert.True(file.Tensors["logits"].isfinite().all().item<bool>());
        }
    }
}
