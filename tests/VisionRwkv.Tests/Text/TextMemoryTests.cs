using TorchSharp;
using VisionRwkv.Tests.Training;
using VisionRwkv.Text;
using VisionRwkv.Text.Generation;
using VisionRwkv.Text.Tokenizers;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

[Collection(nameof(MemoryCollection))]
public class TextMemoryTests
{
    [Fact]
    public void Generation_and_training_steps_leave_no_growing_live_tensors()
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small with { VocabSize = 256 }, seed: 61);
        // Generation: a long run of recurrent steps through the generator.
        var generator = new TextGenerator(model, new ByteTokenizer());
        var options = new SamplingOptions { Seed = 1, MaxTokens = 10 };
        generator.Complete("ab", options);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) generator.Complete("ab", options with { MaxTokens = 60 });
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // Training steps with one dispose scope each (what a training loop does).
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-3);
        var tokens = TextTestModels.Tokens(2, 16, model.VocabSize, seed: 62);
        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            LanguageModelLoss.CrossEntropy(model.call(tokens), tokens).backward();
            optimizer.step();
        }
        Step();
        Step();
        long warm = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++) Step();
        Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount <= warm, $"live tensors went from {warm} to {DisposeScopeManager.Statistics.ThreadTotalLiveCount}");
    }
}
