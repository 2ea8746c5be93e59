using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TorchSharp;
using VisionRwkv.Checkpoints;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Checkpoints;

public sealed class PthTests : IDisposable
{
    private readonly string dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static string Fixture(string name) => Path.Combine(TestPaths.Fixtures, name);

    private static float[] Floats(Tensor t)
    {
        using var f = t.to(ScalarType.Float32);
        return f.data<float>().ToArray();
    }

    /// <summary>Expectations from the closed forms in Fixtures/make_fixtures.py.</summary>
    private static void AssertFixtureStateDict(Checkpoint ckpt)
    {
        var t = ckpt.Tensors;
        Assert.Equal(new[] { "f32", "transposed", "sliced", "tied", "f16", "bf16", "f64", "i64", "i32", "u8", "bool", "scalar", "param" }, t.Keys);
        Assert.Equal(new long[] { 2, 3 }, t["f32"].shape);
        Assert.Equal(new float[] { 0, 0.5f, 1, 1.5f, 2, 2.5f }, Floats(t["f32"]));
        Assert.Equal(new long[] { 3, 2 }, t["transposed"].shape);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, Floats(t["transposed"]));
        Assert.Equal(new float[] { 3, 4, 5, 6 }, Floats(t["sliced"]));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), Floats(t["tied"]));
        Assert.Equal(ScalarType.Float16, t["f16"].dtype);
        Assert.Equal(new float[] { 1.5f, -2.25f, 65504f }, Floats(t["f16"]));
        Assert.Equal(ScalarType.BFloat16, t["bf16"].dtype);
        Assert.Equal(new float[] { 1, -3.5f }, Floats(t["bf16"]));
        Assert.Equal(new[] { 1e-300, -2.0 }, t["f64"].data<double>().ToArray());
        Assert.Equal(new[] { -(1L << 40), 0, 7 }, t["i64"].data<long>().ToArray());
        Assert.Equal(new[] { -5, 6 }, t["i32"].data<int>().ToArray());
        Assert.Equal(new byte[] { 0, 255 }, t["u8"].data<byte>().ToArray());
        Assert.Equal(new[] { true, false, true }, t["bool"].data<bool>().ToArray());
        Assert.Empty(t["scalar"].shape);
        Assert.Equal(3.25f, t["scalar"].item<float>());
        Assert.Equal(new float[] { 0, 1, 2, 3 }, Floats(t["param"]));
        Assert.All(t.Values, x => Assert.True(x.is_contiguous()));
    }

    [Fact]
    public void A_real_torch_save_with_an_mmcv_wrapper_reads_every_dtype_layout_and_meta()
    {
        using var ckpt = Pth.Read(Fixture("torch_wrapped_p2.pth"));
        AssertFixtureStateDict(ckpt);
        Assert.Equal("state_dict", ckpt.Metadata["pth.wrapper"]);
        Assert.Equal("3", ckpt.Metadata["epoch"]);
        Assert.Equal("[\"cat\",\"dog\"]", ckpt.Metadata["CLASSES"]);
        Assert.Equal("real torch", ckpt.Metadata["note"]);
    }

    [Fact]
    public void A_real_torch_save_with_pickle_protocol_4_reads_the_same()
    {
        using var ckpt = Pth.Read(Fixture("torch_bare_p4.pth"));
        AssertFixtureStateDict(ckpt);
        Assert.False(ckpt.Metadata.ContainsKey("pth.wrapper"));
    }

    [Fact]
    public void A_real_legacy_torch_save_reads_the_same_tensors_and_meta()
    {
        // Written by PyTorch 1.13 with _use_new_zipfile_serialization=False: a pickle stream, not a zip.
        Assert.Equal(0x80, File.ReadAllBytes(Fixture("torch_legacy_wrapped_p2.pth"))[0]);
        using var ckpt = Pth.Read(Fixture("torch_legacy_wrapped_p2.pth"));
        AssertFixtureStateDict(ckpt);
        Assert.Equal("state_dict", ckpt.Metadata["pth.wrapper"]);
        Assert.Equal("3", ckpt.Metadata["epoch"]);
        Assert.Equal("real torch", ckpt.Metadata["note"]);
        using var bare = Pth.Read(Fixture("torch_legacy_bare_p4.pth"));
        AssertFixtureStateDict(bare);
    }

    [Fact]
    public void A_truncated_legacy_file_is_an_error_that_names_the_file_wherever_it_is_cut()
    {
        var whole = File.ReadAllBytes(Fixture("torch_legacy_wrapped_p2.pth"));
        foreach (int cut in new[] { 1, 5, 30, whole.Length / 3, whole.Length / 2, whole.Length - 40, whole.Length - 1 })
        {
            var path = Path.Combine(dir, $"cut{cut}.pth");
            File.WriteAllBytes(path, whole[..cut]);
            var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
            Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);
        }
    }

    [Fact]
    public void A_legacy_stream_whose_object_would_run_a_command_is_refused_and_runs_nothing()
    {
        var marker = Path.Combine(dir, "pwned-legacy");
        // Magic number, protocol 1001 and an empty sys_info dict as torch writes them, then the evil object.
        byte[] magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];
        byte[] version = [0x80, 2, (byte)'M', 0xe9, 0x03, (byte)'.'];
        byte[] sysInfo = [0x80, 2, (byte)'}', (byte)'.'];
        var evil = Bytes(0x80, 2, 'c', "os\nsystem\n", BinUnicode($"touch {marker}"), 0x85, 'R', '.');
        var path = Path.Combine(dir, "evil-legacy.pth");
        File.WriteAllBytes(path, [.. magic, .. version, .. sysInfo, .. evil]);
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
        Assert.Equal($"{path}: refusing to load 'os.system': only tensors and plain containers are allowed", ex.Message);
        Assert.False(File.Exists(marker));
        // A pickle that is not torch.save's magic number is refused before anything else is read.
        var notTorch = Path.Combine(dir, "not-torch.pth");
        File.WriteAllBytes(notTorch, [.. version, .. sysInfo]);
        Assert.Contains("not a torch.save file", Assert.Throws<InvalidDataException>(() => Pth.Read(notTorch)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_module_state_dict_under_model_is_unwrapped()
    {
        using var ckpt = Pth.Read(Fixture("torch_module_model.pth"));
        Assert.Equal("model", ckpt.Metadata["pth.wrapper"]);
        Assert.Equal(new[] { "weight", "bias" }, ckpt.Tensors.Keys);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, Floats(ckpt.Tensors["weight"]));
        Assert.Equal(new float[] { -1, 1 }, Floats(ckpt.Tensors["bias"]));
    }

    [Fact]
    public void Tied_tensors_stay_valid_when_one_of_them_is_disposed()
    {
        var path = Path.Combine(dir, "tied.pth");
        using (var a = arange(5, dtype: ScalarType.Float32))
            Pth.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = a });
        using var ckpt = Pth.Read(path);
        ckpt.Tensors["a"].Dispose();
        Assert.Equal(10f, ckpt.Tensors["b"].sum().item<float>());
    }

    private static Dictionary<string, Tensor> Sample() => new()
    {
        ["backbone.layers.0.att.key.weight"] = arange(12, dtype: ScalarType.Float32).reshape(3, 4) / 7,
        ["transposed"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t(),
        ["f16"] = tensor(new float[] { 0.25f, -8 }).to(ScalarType.Float16),
        ["bf16"] = tensor(new float[] { 2, -0.5f }).to(ScalarType.BFloat16),
        ["f64"] = tensor(new double[] { Math.PI }),
        ["i64"] = tensor(new long[] { long.MaxValue, -3 }),
        ["i32"] = tensor(new int[] { 1 << 30 }),
        ["i16"] = tensor(new short[] { -7 }),
        ["i8"] = tensor(new sbyte[] { -8 }),
        ["u8"] = tensor(new byte[] { 200 }),
        ["bool"] = tensor(new[] { false, true }),
        ["scalar"] = tensor(1.5f),
        ["empty"] = zeros(0, 3),
        ["big"] = ones(70000), // numel above BININT2's range
    };

    [Fact]
    public void Written_pth_reads_back_identically_with_and_without_metadata()
    {
        var tensors = Sample();
        foreach (var meta in new[] { null, new Dictionary<string, string> { ["epoch"] = "12", ["config"] = "{\"a\": 1}" } })
        {
            var path = Path.Combine(dir, meta is null ? "bare.pth" : "meta.pth");
            Pth.Write(path, tensors, meta);
            using var ckpt = Pth.Read(path);
            Assert.Equal(tensors.Keys, ckpt.Tensors.Keys);
            foreach (var (k, v) in tensors)
                Assert.True(TensorAssert.SameValues(v, ckpt.Tensors[k]), k);
            if (meta is not null)
            {
                Assert.Equal("12", ckpt.Metadata["epoch"]);
                Assert.Equal("{\"a\": 1}", ckpt.Metadata["config"]);
            }
        }
        foreach (var t in tensors.Values)
            t.Dispose();
    }

    // Importing torch alone takes several seconds on two cores.
    [PythonTorchFact]
    [Trait("Category", "Slow")]
    public void Real_pytorch_loads_our_pth_with_weights_only()
    {
        var tensors = Sample();
        var path = Path.Combine(dir, "ours.pth");
        Pth.Write(path, tensors, new Dictionary<string, string> { ["epoch"] = "5" });
        const string script = """
            import json, sys, torch
            obj = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
            out = {"meta": obj["meta"], "tensors": {}}
            for k, v in obj["state_dict"].items():
                out["tensors"][k] = {"dtype": str(v.dtype), "shape": list(v.shape),
                                     "values": [float(x) for x in v.double().flatten().tolist()]}
            print(json.dumps(out))
            """;
        var (code, output) = Python.Run(Python.TorchExe!, script, TimeSpan.FromMinutes(2), path);
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        Assert.Equal("5", doc.RootElement.GetProperty("meta").GetProperty("epoch").GetString());
        var loaded = doc.RootElement.GetProperty("tensors");
        var torchNames = new Dictionary<ScalarType, string>
        {
            [ScalarType.Float32] = "torch.float32", [ScalarType.Float16] = "torch.float16", [ScalarType.BFloat16] = "torch.bfloat16",
            [ScalarType.Float64] = "torch.float64", [ScalarType.Int64] = "torch.int64", [ScalarType.Int32] = "torch.int32",
            [ScalarType.Int16] = "torch.int16", [ScalarType.Int8] = "torch.int8", [ScalarType.Byte] = "torch.uint8", [ScalarType.Bool] = "torch.bool",
        };
        Assert.Equal(tensors.Keys, loaded.EnumerateObject().Select(p => p.Name));
        foreach (var (k, v) in tensors)
        {
            var e = loaded.GetProperty(k);
            Assert.Equal(torchNames[v.dtype], e.GetProperty("dtype").GetString());
            Assert.Equal(v.shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
            using var d = v.to(ScalarType.Float64).flatten();
            var expected = d.data<double>().ToArray();
            var actual = e.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            if (v.dtype == ScalarType.Int64)
                expected = v.data<long>().ToArray().Select(x => (double)x).ToArray();
            Assert.Equal(expected, actual);
        }
        foreach (var t in tensors.Values)
            t.Dispose();
    }

    private string ZipWithPickle(string name, byte[] pickle)
    {
        var path = Path.Combine(dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var s = zip.CreateEntry("archive/data.pkl").Open())
            s.Write(pickle);
        using (var s = zip.CreateEntry("archive/version").Open())
            s.Write("3\n"u8);
        return path;
    }

    private static byte[] Bytes(params object[] parts)
    {
        var ms = new MemoryStream();
        foreach (var p in parts)
        {
            switch (p)
            {
                case byte b: ms.WriteByte(b); break;
                case int i: ms.WriteByte((byte)i); break;
                case char c: ms.WriteByte((byte)c); break;
                case string s: ms.Write(Encoding.UTF8.GetBytes(s)); break;
                case byte[] a: ms.Write(a); break;
            }
        }
        return ms.ToArray();
    }

    private static byte[] BinUnicode(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return [(byte)'X', .. BitConverter.GetBytes(b.Length), .. b];
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("subprocess", "Popen")]
    public void A_pickle_that_would_run_a_command_is_refused_and_runs_nothing(string module, string name)
    {
        var marker = Path.Combine(dir, "pwned");
        // Protocol 2: GLOBAL module.name, ('touch <marker>',), REDUCE, then a state dict so that only the global is wrong.
        var pickle = Bytes(0x80, 2, 'c', $"{module}\n{name}\n", BinUnicode($"touch {marker}"), 0x85, 'R', '.');
        var path = ZipWithPickle("evil.pth", pickle);
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
        Assert.Equal($"{path}: refusing to load '{module}.{name}': only tensors and plain containers are allowed", ex.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void A_stack_global_to_a_forbidden_callable_is_refused()
    {
        // Protocol 4 style: SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL.
        var pickle = Bytes(0x80, 4, 0x8c, 2, "os", 0x8c, 6, "system", 0x93, BinUnicode("true"), 0x85, 'R', '.');
        var path = ZipWithPickle("evil4.pth", pickle);
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
        Assert.Contains("refusing to load 'os.system'", ex.Message, StringComparison.Ordinal);
    }

    [PythonFact]
    public void A_malicious_pickle_made_by_python_is_refused_although_python_would_run_it()
    {
        var marker = Path.Combine(dir, "pwned");
        var pklPath = Path.Combine(dir, "evil.pkl");
        const string make = """
            import os, pickle, sys
            class Evil:
                def __reduce__(self):
                    return (os.system, ("touch " + sys.argv[1],))
            with open(sys.argv[2], "wb") as f:
                pickle.dump({"state_dict": {"w": Evil()}}, f, protocol=2)
            """;
        var (code, output) = Python.Run(Python.PlainExe!, make, TimeSpan.FromSeconds(60), marker, pklPath);
        Assert.True(code == 0, output);
        Assert.False(File.Exists(marker));

        var path = ZipWithPickle("evil_py.pth", File.ReadAllBytes(pklPath));
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
        Assert.Contains("refusing to load", ex.Message, StringComparison.Ordinal);
        Assert.Contains(".system'", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));

        // The payload is live: Python's own unpickler creates the marker, so the check above could have failed.
        var (loadCode, loadOutput) = Python.Run(Python.PlainExe!, "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", TimeSpan.FromSeconds(60), pklPath);
        Assert.True(loadCode == 0, loadOutput);
        Assert.True(File.Exists(marker));
    }

    [PythonFact]
    public void Plain_containers_parse_the_same_under_every_pickle_protocol()
    {
        const string make = """
            import pickle, sys
            meta = {"list": [1, -1, 255, 256, 65535, 65536, -70000, 2**40, 2**70, 2.5, None, True, False, "s\u00e9"],
                    "tuple": (1, ("nested", [])), "dict": {"k": {"deep": 1.0e-10}}, "bytes": b"\x00\xff"}
            for proto in range(6):
                with open(sys.argv[1] + str(proto), "wb") as f:
                    pickle.dump({"state_dict": {}, "meta": meta}, f, protocol=proto)
            """;
        var prefix = Path.Combine(dir, "plain.p");
        var (code, output) = Python.Run(Python.PlainExe!, make, TimeSpan.FromSeconds(60), prefix);
        Assert.True(code == 0, output);
        const string expectedList = "[1,-1,255,256,65535,65536,-70000,1099511627776,\"1180591620717411303424\",2.5,null,true,false,\"s\\u00E9\"]";
        for (var proto = 0; proto <= 5; proto++)
        {
            var path = ZipWithPickle($"plain{proto}.pth", File.ReadAllBytes(prefix + proto));
            using var ckpt = Pth.Read(path);
            Assert.Empty(ckpt.Tensors);
            Assert.Equal(expectedList, ckpt.Metadata["list"]);
            Assert.Equal("[1,[\"nested\",[]]]", ckpt.Metadata["tuple"]);
            Assert.Equal("{\"k\":{\"deep\":1E-10}}", ckpt.Metadata["dict"]);
            Assert.Equal("\"AP8=\"", ckpt.Metadata["bytes"]);
        }
    }

    [Fact]
    public void A_view_reaching_past_its_storage_is_rejected()
    {
        var path = Path.Combine(dir, "ok.pth");
        using (var a = arange(4, dtype: ScalarType.Float32))
            Pth.Write(path, new Dictionary<string, Tensor> { ["a"] = a });
        // Rewrite the pickle so that the tensor claims 5 elements of a 4-element storage.
        var bad = Path.Combine(dir, "bad.pth");
        using (var src = ZipFile.OpenRead(path))
        using (var dst = ZipFile.Open(bad, ZipArchiveMode.Create))
        {
            foreach (var e in src.Entries)
            {
                using var r = e.Open();
                var ms = new MemoryStream();
                r.CopyTo(ms);
                var bytes = ms.ToArray();
                if (e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                {
                    // size tuple "( K 4 t" -> "( K 5 t": MARK, BININT1 4, TUPLE after BININT1 0 (the offset).
                    var at = IndexOf(bytes, [(byte)'K', 0, (byte)'(', (byte)'K', 4, (byte)'t']);
                    Assert.True(at >= 0);
                    bytes[at + 4] = 5;
                }
                using var w = dst.CreateEntry(e.FullName).Open();
                w.Write(bytes);
            }
        }
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(bad));
        Assert.Contains(bad, ex.Message, StringComparison.Ordinal);
        Assert.Contains("reaches element 4 of storage '0', which has 4", ex.Message, StringComparison.Ordinal);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
                return i;
        }
        return -1;
    }

    [Fact]
    public void Files_that_are_not_zip_checkpoints_are_rejected_by_name()
    {
        var text = Path.Combine(dir, "text.pth");
        File.WriteAllText(text, "hello world");
        Assert.Contains($"{text}: not a PyTorch checkpoint", Assert.Throws<InvalidDataException>(() => Pth.Read(text)).Message, StringComparison.Ordinal);

        var noPkl = Path.Combine(dir, "nopkl.pth");
        using (var zip = ZipFile.Open(noPkl, ZipArchiveMode.Create))
            zip.CreateEntry("x/readme.txt");
        Assert.Contains("has no <name>/data.pkl", Assert.Throws<InvalidDataException>(() => Pth.Read(noPkl)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_storage_record_is_reported()
    {
        var path = Path.Combine(dir, "ok.pth");
        using (var a = ones(2))
            Pth.Write(path, new Dictionary<string, Tensor> { ["a"] = a });
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
            zip.GetEntry("archive/data/0")!.Delete();
        var ex = Assert.Throws<InvalidDataException>(() => Pth.Read(path));
        Assert.Contains("storage record archive/data/0 is missing", ex.Message, StringComparison.Ordinal);
    }
}
