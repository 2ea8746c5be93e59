using VisionRwkv.Text;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

public class TextEvaluationTests
{
    [Fact]
    public void Rwkv_evaluation_carries_its_state_so_the_window_size_does_not_matter()
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 51, ScalarType.Float64);
        var tokens = TextTestModels.Tokens(1, 60, model.VocabSize, seed: 52);
        var ids = tokens[0].data<long>().Select(t => (int)t).ToArray();
        var small = TextEvaluation.Evaluate(model, ids, predictedBytes: 59, context: 7);
        var large = TextEvaluation.Evaluate(model, ids, predictedBytes: 59, context: 1000);
        Assert.Equal(59, small.Tokens);
        Assert.Equal(large.CrossEntropy, small.CrossEntropy, 10);
        // Against the definition: mean -log softmax(logits)[next token] of one forward over the text.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.call(tokens.narrow(1, 0, 59))[0];                     // [59,V]
        var nll = -logits.log_softmax(-1).gather(1, tokens[0].narrow(0, 1, 59).unsqueeze(1)).mean().item<double>();
        Assert.Equal(nll, large.CrossEntropy, 10);
        Assert.Equal(Math.Exp(nll), large.Perplexity, 8);
        Assert.Equal(nll * 59 / Math.Log(2) / 59, large.BitsPerByte, 10);
    }
}
