using TorchSharp;
using TorchSharp.Modules;
using VisionRwkv.Checkpoints;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace VisionRwkv.Tests.Checkpoints;

public sealed class CheckpointConverterTests : IDisposable
{
    private readonly string dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // A toy classifier with the mmcls ImageClassifier key layout: backbone.{pos_embed, patch_embed.projection.*,
    // ln1.*}, head.fc.*, plus a persistent buffer.
    private sealed class ToyBackbone : Module<Tensor, Tensor>
    {
        private readonly Parameter pos_embed;
        private readonly Linear patch_embed;
        private readonly LayerNorm ln1;
        private readonly Tensor counter;

        public ToyBackbone() : base("backbone")
        {
            pos_embed = Parameter(zeros(1, 2, 3));
            patch_embed = Linear(4, 3);
            ln1 = LayerNorm(3);
            counter = zeros(1, dtype: ScalarType.Int64);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => ln1.call(patch_embed.call(x) + pos_embed);
    }

    private sealed class ToyHead : Module<Tensor, Tensor>
    {
        private readonly Linear fc;

        public ToyHead() : base("head")
        {
            fc = Linear(3, 5);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => fc.call(x);
    }

    private sealed class ToyClassifier : Module<Tensor, Tensor>
    {
        private readonly ToyBackbone backbone = new();
        private readonly ToyHead head = new();

        public ToyClassifier() : base("toy") => RegisterComponents();

        public override Tensor forward(Tensor x) => head.call(backbone.call(x));
    }

    private static readonly string[] ToyKeys =
    [
        "backbone.pos_embed", "backbone.counter", "backbone.patch_embed.weight", "backbone.patch_embed.bias",
        "backbone.ln1.weight", "backbone.ln1.bias", "head.fc.weight", "head.fc.bias",
    ];

    /// <summary>A state dict for the toy with distinct values per key (key index * 100 + element index).</summary>
    private static Dictionary<string, Tensor> ToyStateDict(ToyClassifier model, Func<string, string> rename, ScalarType? dtype = null)
    {
        var result = new Dictionary<string, Tensor>();
        var i = 0;
        foreach (var (key, p) in model.state_dict())
        {
            var t = (arange(p.numel(), dtype: ScalarType.Float64) + 100 * i++).reshape(p.shape).to(dtype ?? p.dtype);
            result[rename(key)] = t;
        }
        return result;
    }

    [Fact]
    public void The_toy_has_the_mmcls_key_layout()
    {
        using var model = new ToyClassifier();
        Assert.Equal(ToyKeys.Order(), model.state_dict().Keys.Order());
    }

    [Theory]
    [InlineData("")]
    [InlineData("module.")]
    [InlineData("_orig_mod.")]
    [InlineData("module._orig_mod.")]
    public void Wrapper_prefixes_are_stripped_and_every_tensor_lands_in_its_parameter(string prefix)
    {
        using var model = new ToyClassifier();
        var sd = ToyStateDict(model, k => prefix + k);
        var report = WeightLoader.Apply(model, sd, WeightLoadOptions.Exact, "toy.safetensors");
        Assert.True(report.IsExact, report.ToString());
        Assert.Equal(8, report.Loaded.Count);
        foreach (var (key, t) in sd)
            Assert.True(TensorAssert.SameValues(t, model.state_dict()[key[prefix.Length..]]), key);
        foreach (var t in sd.Values)
            t.Dispose();
    }

    [Fact]
    public void A_backbone_only_file_without_the_backbone_prefix_loads_into_the_backbone()
    {
        using var model = new ToyClassifier();
        var sd = ToyStateDict(model, k => k).Where(kv => kv.Key.StartsWith("backbone.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["backbone.".Length..], kv => kv.Value);
        var report = WeightLoader.Apply(model, sd, WeightLoadOptions.FineTune, "toy.safetensors");
        Assert.Equal(new[] { "head.fc.weight", "head.fc.bias" }, report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(6, report.Loaded.Count);
        Assert.True(TensorAssert.SameValues(sd["pos_embed"], model.state_dict()["backbone.pos_embed"]));
    }

    [Fact]
    public void A_timm_style_head_maps_to_head_fc()
    {
        using var model = new ToyClassifier();
        var sd = ToyStateDict(model, k => k.Replace("head.fc.", "head.", StringComparison.Ordinal));
        Assert.Contains("head.weight", sd.Keys);
        var report = WeightLoader.Apply(model, sd, WeightLoadOptions.Exact, "toy.safetensors");
        Assert.True(report.IsExact, report.ToString());
        Assert.True(TensorAssert.SameValues(sd["head.weight"], model.state_dict()["head.fc.weight"]));
    }

    [Fact]
    public void Half_precision_tensors_are_converted_to_the_parameter_dtype()
    {
        using var model = new ToyClassifier();
        var sd = ToyStateDict(model, k => k, ScalarType.Float16);
        sd["backbone.counter"] = tensor(new long[] { 42 });
        WeightLoader.Apply(model, sd, WeightLoadOptions.Exact, "toy.safetensors");
        var w = model.state_dict()["head.fc.weight"];
        Assert.Equal(ScalarType.Float32, w.dtype);
        using var expected = sd["head.fc.weight"].to(ScalarType.Float32);
        Assert.True(TensorAssert.SameValues(expected, w));
        Assert.True(w.requires_grad);
        Assert.Equal(42L, model.state_dict()["backbone.counter"].item<long>());
    }

    [Fact]
    public void Strict_loading_of_a_mismatched_file_names_the_problems_and_changes_nothing()
    {
        using var model = new ToyClassifier();
        using var before = model.state_dict()["backbone.ln1.weight"].clone();
        var sd = ToyStateDict(model, k => k);
        sd.Remove("head.fc.bias");
        sd["backbone.extra"] = ones(1);
        sd["backbone.pos_embed"] = zeros(1, 5, 3);
        var ex = Assert.Throws<InvalidDataException>(() => WeightLoader.Apply(model, sd, WeightLoadOptions.Exact, "toy.safetensors"));
        Assert.StartsWith("toy.safetensors: the weights do not match the model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("missing in checkpoint (1):", ex.Message, StringComparison.Ordinal);
        Assert.Contains("head.fc.bias", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected in checkpoint (1):", ex.Message, StringComparison.Ordinal);
        Assert.Contains("backbone.extra", ex.Message, StringComparison.Ordinal);
        Assert.Contains("backbone.pos_embed: model [1, 2, 3], checkpoint [1, 5, 3]", ex.Message, StringComparison.Ordinal);
        Assert.True(TensorAssert.SameValues(before, model.state_dict()["backbone.ln1.weight"]));

        // Fine-tuning refuses a shape difference it cannot adapt (this toy names no position embedding) ...
        var refused = Assert.Throws<InvalidDataException>(() => WeightLoader.Apply(model, sd, WeightLoadOptions.FineTune, "toy.safetensors"));
        Assert.Contains("backbone.pos_embed: model [1, 2, 3], checkpoint [1, 5, 3]", refused.Message, StringComparison.Ordinal);
        Assert.True(TensorAssert.SameValues(before, model.state_dict()["backbone.ln1.weight"]));
        // ... and loads the rest of a file with missing and unexpected keys, reporting them.
        sd.Remove("backbone.pos_embed");
        var report = WeightLoader.Apply(model, sd, WeightLoadOptions.FineTune, "toy.safetensors");
        Assert.Equal(new[] { "backbone.pos_embed", "head.fc.bias" }, report.Missing.Order());
        Assert.Equal(new[] { "backbone.extra" }, report.Unexpected);
        Assert.Equal(6, report.Loaded.Count);
        Assert.DoesNotContain("backbone.pos_embed", report.Loaded);
        Assert.True(TensorAssert.SameValues(sd["backbone.ln1.weight"], model.state_dict()["backbone.ln1.weight"]));
    }

    [Fact]
    public void Without_a_model_a_bare_backbone_gets_the_backbone_prefix_and_mmcls_keys_stay()
    {
        using var a = ones(1);
        var bare = new Dictionary<string, Tensor> { ["module.layers.0.att.key.weight"] = a, ["pos_embed"] = a };
        Assert.Equal(new[] { "backbone.layers.0.att.key.weight", "backbone.pos_embed" }, CheckpointConverter.Normalise(bare).Keys);
        var mmcls = new Dictionary<string, Tensor> { ["backbone.ln1.weight"] = a, ["head.fc.weight"] = a };
        Assert.Equal(mmcls.Keys, CheckpointConverter.Normalise(mmcls).Keys);
    }

    [Fact]
    public void Renaming_that_collides_is_an_error_naming_the_key()
    {
        using var a = ones(1);
        var sd = new Dictionary<string, Tensor> { ["backbone.x"] = a, ["x"] = a };
        var ex = Assert.Throws<InvalidOperationException>(() => CheckpointConverter.RenamePrefixes(sd, "backbone.", null));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { "m.backbone.x", "m.x" }, CheckpointConverter.RenamePrefixes(sd, null, "m.").Keys);
    }

    [VrwkvGoldenFact]
    public void The_golden_weights_survive_safetensors_to_pth_to_safetensors_through_checkpoint_io()
    {
        var golden = Directory.GetFiles(TestPaths.VrwkvExactDir, "*.safetensors").Order().First();
        using var source = CheckpointIO.Load(golden);
        var pth = Path.Combine(dir, "g.pth");
        CheckpointIO.Save(pth, source.Tensors, source.Metadata);
        using var viaPth = CheckpointIO.Load(pth);
        var back = Path.Combine(dir, "g.safetensors");
        CheckpointIO.Save(back, viaPth.Tensors, viaPth.Metadata);
        using var again = CheckpointIO.Load(back);
        Assert.Equal(source.Tensors.Keys, again.Tensors.Keys);
        foreach (var (k, t) in source.Tensors)
            Assert.True(TensorAssert.SameValues(t, again.Tensors[k]), k);
        Assert.Equal(source.Metadata["meta"], again.Metadata["meta"]);
    }

    [Fact]
    public void Unknown_extensions_are_rejected_by_name()
    {
        var ex = Assert.Throws<ArgumentException>(() => CheckpointIO.Load("weights.onnx"));
        Assert.Contains("weights.onnx: unknown checkpoint extension '.onnx'", ex.Message, StringComparison.Ordinal);
    }
}
