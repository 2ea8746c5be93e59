// Notebook 6: the RWKV-4 language model. Run it with:  dotnet run --file notebooks/06-text.cs
// One set of weights, two modes: parallel over a whole sequence (training, prompt ingestion) and recurrent, one
// token at a time with a fixed-size state (generation). The GPT baseline has the same surface with a KV cache.
#:project ../src/VisionRwkv/VisionRwkv.csproj
#:property TreatWarningsAsErrors=false
using VisionRwkv.Training;
using VisionRwkv.Text;
using VisionRwkv.Text.Generation;
using VisionRwkv.Text.Tokenizers;
using static TorchSharp.torch;

// ## 1. A model: the tiny trained rwkv.cpp test model when the shared goldens are at hand, else a small preset.
var golden = Path.Combine("..", "shared", "goldens", "rwkv4-text", "tiny-rwkv-4v0-660K.safetensors");
manual_seed(0);
var loaded = TextModels.CreateOrLoad(File.Exists(golden) ? golden : "rwkv4_byte_2x64");
using var model = (RwkvLm)loaded.Model;
Console.WriteLine($"{model.Name}: {model.Config}; {loaded.Report.ToString().Split('\n')[0]}");

// ## 2. Parallel == recurrent: the logits of a prompt at every position, both ways.
var tokenizer = new ByteTokenizer();
var ids = tokenizer.Encode("\"in the beginning");
using (var scope = NewDisposeScope())
using (no_grad())
{
    var tokens = tensor(ids.Select(i => (long)i).ToArray()).view(1, -1);     // [1,T]
    var (parallel, _) = model.Forward(tokens);                               // [1,T,V]
    RwkvState? state = null;
    double worst = 0;
    for (int t = 0; t < ids.Length; t++)
    {
        Tensor logits;
        (logits, state) = model.Step(tokens[.., t], state);                  // [1,V]
        worst = Math.Max(worst, (logits[0] - parallel[0, t]).abs().max().item<float>());
    }
    Console.WriteLine($"{ids.Length} tokens: max |parallel - recurrent| = {worst:E2}; state [{string.Join(",", state!.ToTensor().shape)}] = {state.Bytes} bytes, whatever the length");

    // ## 3. A state saved after the prompt continues exactly after loading.
    var path = Path.Combine(Path.GetTempPath(), $"rwkv-notebook-{Guid.NewGuid():N}.safetensors");
    state.Save(path);
    using var back = RwkvState.Load(path, model.Config);
    var next = tensor(new long[] { 32 });
    var (a, _) = model.Step(next, state);
    var (b, _) = model.Step(next, back);
    Console.WriteLine($"continued from the saved state: max |diff| = {(a - b).abs().max().item<float>()}");
    File.Delete(path);
}

// ## 4. Generation: seeded sampling, streamed piece by piece, stopping before a stop string.
var generator = new TextGenerator(model, tokenizer);
var options = new SamplingOptions { Temperature = 0.8, TopP = 0.9, Seed = 1, MaxTokens = 80, StopStrings = ["\n\n"] };
Console.Write("generated: In the");
foreach (var piece in generator.Stream("In the", options)) Console.Write(piece);
Console.WriteLine($"\n({generator.Last!.NewTokens} tokens, stopped: {generator.Last.Reason})");

// ## 5. The World tokenizer: greedy longest match over a vocabulary of Python literals (a three-line one here).
var vocab = Path.Combine(Path.GetTempPath(), $"rwkv-notebook-{Guid.NewGuid():N}.txt");
File.WriteAllText(vocab, string.Concat(Enumerable.Range(0, 256).Select(x => $"{x + 1} b'\\x{x:x2}' 1\n")) + "257 ' the' 4\n258 'th' 2\n259 '╠' 3\n");
var world = WorldTokenizer.Load(vocab);
Console.WriteLine($"world: \"the the╠\" -> [{string.Join(", ", world.Encode("the the╠"))}]");
File.Delete(vocab);

// ## 6. The GPT baseline, same interface: its key/value cache grows with the context, RWKV's state does not.
using var gpt = TextModels.Create("gpt_byte_2x64");
using (var scope = NewDisposeScope())
using (no_grad())
{
    var tokens = tensor(ids.Select(i => (long)i).ToArray()).view(1, -1);
    var (_, cache) = gpt.Prefill(tokens);
    using (cache)
        Console.WriteLine($"gpt after {cache.Tokens} tokens: KV cache {cache.Bytes} bytes (grows by {cache.Bytes / cache.Tokens} per token)");
}

// ## 7. Evaluation: cross-entropy, bits per byte and perplexity on a text.
var text = "The quick brown fox jumps over the lazy dog. In the beginning was the word.\n";
var eval = TextEvaluation.Evaluate(model, tokenizer.Encode(text), predictedBytes: text.Length - 1);
Console.WriteLine($"eval: {eval.CrossEntropy:F3} nats/token, {eval.BitsPerByte:F3} bits/byte, perplexity {eval.Perplexity:F2}");

// ## 8. Training, through the library entry point the `rwkv text train` command calls: a few seconds on a repetitive
//    text (the training engine: AdamW, cosine schedule, checkpoints, run folder with summary.csv and metrics.json).
var runRoot = Directory.CreateTempSubdirectory("rwkv-notebook-text-");
var trainText = Path.Combine(runRoot.FullName, "text.txt");
File.WriteAllText(trainText, string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 300)));
var spec = new VisionRwkv.Text.Training.TextRunSpec
{
    Model = "rwkv4_byte_2x64", Data = trainText, SeqLen = 32, StepsPerEpoch = 15, ValTokens = 512,
    Train = VisionRwkv.Text.Training.TextRunSpec.Defaults with { Epochs = 3, BatchSize = 4, LearningRate = 5e-3, WarmupSteps = 5 },
};
var run = VisionRwkv.Text.Training.TextRun.Train(spec, Path.Combine(runRoot.FullName, "run"), new RunOptions { WritePlots = false });
foreach (var epoch in run.Result.History)
    Console.WriteLine($"epoch {epoch.Epoch}: train loss {epoch.TrainLoss:F3}, validation bits/byte {epoch["val_bpb"]:F3}");
Console.WriteLine($"held-out bits/byte {run.Test!.BitsPerByte:F3} after {run.Result.TrainSeconds:F1}s; model file {Path.GetFileName(run.ModelPath)}");
var trained = TextModels.Load(run.ModelPath);
using (var trainedModel = trained.Model)
{
    var sample = new TextGenerator(trainedModel, tokenizer).Complete("The quick", new SamplingOptions { Temperature = 0.5, Seed = 2, MaxTokens = 40 });
    Console.WriteLine($"sample: The quick{sample}");
}
runRoot.Delete(recursive: true);
