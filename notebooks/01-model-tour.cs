// Notebook 1: a tour of the Vision-RWKV models. Run it with:  dotnet run --file notebooks/01-model-tour.cs
// Each section prints what it shows; CI runs every notebook and fails if one throws or exits non-zero.
#:project ../src/VisionRwkv/VisionRwkv.csproj
#:property TreatWarningsAsErrors=false
using VisionRwkv.Models;
using VisionRwkv.Wkv;
using static TorchSharp.torch;

// ## 1. The preset registry: every model with its parameter count and the input it expects.
foreach (var entry in ModelRegistry.All.Where(e => !e.Name.EndsWith("_l", StringComparison.Ordinal)))
{
    using var m = entry.Create(null);
    Console.WriteLine($"{entry.Name,-14} {m.parameters().Sum(p => p.numel()) / 1e6,6:F2}M  {entry.Data.Channels}x{entry.Data.Height}x{entry.Data.Width}");
}

// ## 2. A forward pass: logits, tokens [B,N,C] and a feature map [B,C,H,W] for dense heads and saliency.
using var model = new VrwkvClassifier(VrwkvConfig.Mini28, "vrwkv_mini_28");
model.eval();
using (var scope = NewDisposeScope())
using (no_grad())
{
    var images = randn(2, 1, 28, 28);
    Console.WriteLine($"logits   [{string.Join(",", model.call(images).shape)}]");
    Console.WriteLine($"tokens   [{string.Join(",", model.ForwardFeatures(images).shape)}]");
    Console.WriteLine($"map      [{string.Join(",", model.Backbone.ForwardMap(images).shape)}]");
    // Any input size works: the position embedding is resized on the fly (bicubic), here to a 10x8 token grid.
    Console.WriteLine($"40x32 in [{string.Join(",", model.ForwardFeatures(randn(1, 1, 40, 32)).shape)}] tokens");
}

// ## 3. The Bi-WKV core: linear in the number of tokens, and equal to the formula.
using (var scope = NewDisposeScope())
{
    var (k, v) = (randn(1, 196, 8), randn(1, 196, 8));
    var (w, u) = (rand(8) / 196, rand(8) / 196);
    var fast = Wkv4.Bidirectional(k, v, w, u, WkvImplementation.Fast);
    var reference = Wkv4.Bidirectional(k, v, w, u, WkvImplementation.Reference);
    double err = (fast - reference).abs().max().item<float>();
    Console.WriteLine($"fast vs reference Bi-WKV at T=196: max |diff| = {err:E2}");
    if (err > 1e-4) throw new InvalidOperationException("fast and reference WKV disagree");
}
