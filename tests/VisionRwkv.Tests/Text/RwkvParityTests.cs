using VisionRwkv.Text;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Text;

/// <summary>
/// The parallel mode (the WKV core's causal scan over whole sequences) and the recurrent mode (one token at a time
/// through Wkv4.Step) of one set of random weights give the same logits, and states carry across calls and files.
/// </summary>
public class RwkvParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(300)]
    public void Parallel_equals_recurrent_for_random_weights_in_float64(int T)
    {
        double err = MaxParallelRecurrentDifference(T, ScalarType.Float64);
        output.WriteLine($"float64, T={T}: max |parallel - recurrent| = {err:E2}");
        Assert.True(err < 1e-12, $"float64 T={T}: {err:E3}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(300)]
    public void Parallel_equals_recurrent_for_random_weights_in_float32(int T)
    {
        double err = MaxParallelRecurrentDifference(T, ScalarType.Float32);
        output.WriteLine($"float32, T={T}: max |parallel - recurrent| = {err:E2}");
        Assert.True(err < 1e-5, $"float32 T={T}: {err:E3}");
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-10)]
    [InlineData(ScalarType.Float32, 2e-5)]
    public void A_prompt_ingested_in_parallel_then_continued_recurrently_equals_all_recurrent(ScalarType dtype, double tol)
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 3, dtype);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(2, 40, model.VocabSize, seed: 4);
        var recurrent = Recurrent(model, tokens);                               // [B,T,V]
        var (prompt, state) = model.Forward(tokens.narrow(1, 0, 25));
        Assert.Equal(25, state.Tokens);
        double err = (prompt - recurrent.narrow(1, 0, 25)).abs().max().to(ScalarType.Float64).item<double>();
        for (int t = 25; t < 40; t++)
        {
            Tensor logits;
            (logits, state) = model.Step(tokens[.., t], state);
            err = Math.Max(err, (logits - recurrent[.., t]).abs().max().to(ScalarType.Float64).item<double>());
        }
        output.WriteLine($"{dtype}: max |parallel prompt + recurrent - all recurrent| = {err:E2}");
        Assert.True(err < tol, $"{err:E3}");
    }

    [Fact]
    public void Parallel_in_two_calls_with_the_carried_state_equals_one_call()
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 5, ScalarType.Float64);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(2, 50, model.VocabSize, seed: 6);
        var (all, final) = model.Forward(tokens);
        var (first, mid) = model.Forward(tokens.narrow(1, 0, 17));
        var (second, end) = model.Forward(tokens.narrow(1, 17, 33), mid);
        Assert.True((cat([first, second], 1) - all).abs().max().to(ScalarType.Float64).item<double>() < 1e-10);
        Assert.True((end.ToTensor() - final.ToTensor()).abs().max().item<float>() < 1e-6);
        Assert.Equal(50, end.Tokens);
    }

    [Fact]
    public void A_saved_state_continues_exactly_after_loading()
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 7);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(1, 12, model.VocabSize, seed: 8);
        var (_, state) = model.Forward(tokens.narrow(1, 0, 10));
        var dir = Directory.CreateTempSubdirectory("rwkv-text-state-");
        try
        {
            var path = Path.Combine(dir.FullName, "state.safetensors");
            state.Save(path);
            using var loaded = RwkvState.Load(path, model.Config);
            Assert.Equal(10, loaded.Tokens);
            var (a, _) = model.Forward(tokens.narrow(1, 10, 2), state);
            var (b, _) = model.Forward(tokens.narrow(1, 10, 2), loaded);
            Assert.Equal(0, (a - b).abs().max().item<float>());
            var wrong = TextTestModels.Small with { NEmbd = 8 };
            Assert.Throws<InvalidDataException>(() => RwkvState.Load(path, wrong));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_state_tensor_is_layer_by_five_by_batch_by_channels_in_ChatRWKV_order()
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 9);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (_, state) = model.Forward(TextTestModels.Tokens(2, 5, model.VocabSize, seed: 10));
        var t = state.ToTensor();
        Assert.Equal(new long[] { 3, 5, 2, 16 }, t.shape);
        for (int l = 0; l < 3; l++)
        {
            var s = state.Layers[l];
            Assert.True(t[l, 0].eq(s.AttShift).all().item<bool>());
            Assert.True(t[l, 1].eq(s.Wkv.Num).all().item<bool>());
            Assert.True(t[l, 2].eq(s.Wkv.Den).all().item<bool>());
            Assert.True(t[l, 3].eq(s.Wkv.MaxLog).all().item<bool>());
            Assert.True(t[l, 4].eq(s.FfnShift).all().item<bool>());
        }
        using var empty = model.InitialState(1);
        var e = empty.ToTensor();
        Assert.Equal(-1e30f, e[0, 3, 0, 0].item<float>());
        Assert.Equal(0f, e[0, 1].abs().max().item<float>());
    }

    /// <summary>max |logits(parallel) - logits(recurrent)| over B=2 random sequences of T tokens.</summary>
    private static double MaxParallelRecurrentDifference(int T, ScalarType dtype)
    {
        using var model = TextTestModels.RandomRwkv(TextTestModels.Small, seed: 1, dtype);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = TextTestModels.Tokens(2, T, model.VocabSize, seed: 2);
        var (parallel, _) = model.Forward(tokens);                              // [B,T,V]
        var recurrent = Recurrent(model, tokens);
        Assert.Equal(dtype, parallel.dtype);
        Assert.True(parallel.isfinite().all().item<bool>());
        // Logits of the random model are O(1)-O(10): the comparison is meaningful in absolute terms.
        Assert.True(parallel.abs().max().to(ScalarType.Float64).item<double>() > 0.5);
        return (parallel - recurrent).abs().max().to(ScalarType.Float64).item<double>();
    }

    private static Tensor Recurrent(RwkvLm model, Tensor tokens)
    {
        RwkvState? state = null;
        var steps = new List<Tensor>();
        for (long t = 0; t < tokens.shape[1]; t++)
        {
            Tensor logits;
            (logits, state) = model.Step(tokens[.., t], state);
            steps.Add(logits);
        }
        return stack(steps, 1);
    }
}
