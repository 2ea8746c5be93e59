using VisionRwkv.Explain;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using TorchSharp;
using static TorchSharp.torch;

namespace VisionRwkv.Tests.Explain;

public sealed class GradCamTests
{
    // Tokens of a 2x2 grid, 2 channels, and their gradients (rows differ; they average to α = (1, -1)).
    private static readonly float[] Tokens = [1, 0, 0, 1, 2, 0, 0, 0];
    private static readonly float[] Gradients = [2, -1, 0, -1, 1, -2, 1, 0];

    [Fact]
    public void Classic_Grad_CAM_weighs_channels_by_their_mean_gradient_and_keeps_the_positive_part()
    {
        using var scope = NewDisposeScope();
        // Σ_c α_c A = (1, -1, 2, 0) → ReLU (1, 0, 2, 0) → / max: (0.5, 0, 1, 0). Same size, so no interpolation.
        var map = GradCam.ScaleToImage(tensor(Tokens, [4, 2]), tensor(Gradients, [4, 2]), new PatchGrid(2, 2), 2, 2,
            GradCamWeighting.Channel, GradCamSign.Positive);
        Assert.Equal(new float[,] { { 0.5f, 0f }, { 1f, 0f } }, map);
    }

    [Fact]
    public void Element_wise_Grad_CAM_weighs_each_token_by_its_own_gradient_and_keeps_the_magnitude_by_default()
    {
        using var scope = NewDisposeScope();
        // Σ_c G[n,c]·A[n,c] = (1·2 + 0, 0 + 1·-1, 2·1 + 0, 0) = (2, -1, 2, 0) → |·| (2, 1, 2, 0) → / max: (1, 0.5, 1, 0).
        var map = GradCam.ScaleToImage(tensor(Tokens, [4, 2]), tensor(Gradients, [4, 2]), new PatchGrid(2, 2), 2, 2);
        Assert.Equal(new float[,] { { 1f, 0.5f }, { 1f, 0f } }, map);
        // ReLU instead: (2, 0, 2, 0) / 2.
        var positive = GradCam.ScaleToImage(tensor(Tokens, [4, 2]), tensor(Gradients, [4, 2]), new PatchGrid(2, 2), 2, 2,
            GradCamWeighting.Element, GradCamSign.Positive);
        Assert.Equal(new float[,] { { 1f, 0f }, { 1f, 0f } }, positive);
    }

    [Fact]
    public void The_Grad_CAM_block_counts_from_the_end_when_negative_and_names_the_range_when_out_of_it()
    {
        using var scope = NewDisposeScope();
        using var model = new VrwkvClassifier(VrwkvConfig.Mini28 with { Depth = 2 });
        model.eval();
        var image = randn(1, 1, 28, 28, generator: new TorchSharp.torch.Generator(3));
        var (last, _, _) = GradCam.TokensAndGradients(model, image, 0, block: -1);
        var (second, _, _) = GradCam.TokensAndGradients(model, image, 0, block: 1);
        var (first, _, _) = GradCam.TokensAndGradients(model, image, 0, block: 0);
        Assert.True(last.allclose(second, 0, 0));
        Assert.False(first.allclose(second, 0, 0));
        var error = Assert.Throws<ArgumentException>(() => GradCam.TokensAndGradients(model, image, 0, block: 2));
        Assert.Contains("blocks 0..1", error.Message);
    }

    [Fact]
    public void Grad_CAM_upsamples_a_single_hot_token_to_a_peak_on_that_token()
    {
        using var scope = NewDisposeScope();
        var tokens = zeros(16, 1);
        tokens[9] = 1;                                  // grid row 2, column 1 of 4x4
        var map = GradCam.ScaleToImage(tokens, ones(16, 1), new PatchGrid(4, 4), 16, 16);
        var (y, x) = Saliency.Peak(map);
        Assert.InRange(y, 8, 11);
        Assert.InRange(x, 4, 7);
        Assert.Equal(0f, map[0, 15]);
    }

    [Fact]
    public void Grad_CAM_reaches_the_patch_tokens_of_both_model_families()
    {
        using var scope = NewDisposeScope();
        var image = randn(1, 28, 28, generator: new TorchSharp.torch.Generator(5));
        using var vrwkv = new VrwkvClassifier(VrwkvConfig.Mini28);
        using var vit = new VisionTransformer(VitConfig.Mini28);
        foreach (IImageClassifier model in new IImageClassifier[] { vrwkv, vit })
        {
            var map = Saliency.Map(model, image, -1, SaliencyMethod.GradCam);
            var values = map.Cast<float>().ToArray();
            Assert.All(values, v => Assert.InRange(v, 0f, 1f));
            // A zero gradient (the wrong layer for a class-token model) would give an all-zero map.
            Assert.Equal(1f, values.Max());
        }
    }

    [Fact]
    public void Grad_CAM_gradients_match_finite_differences_of_the_logit()
    {
        // The hook swaps the target layer's output (the last block's ln1) for a leaf; its gradient must be the logit's
        // true sensitivity. Finite differences rerun the whole model with the ln1 output replaced by a perturbed copy.
        using var scope = NewDisposeScope();
        using var model = new VrwkvClassifier(VrwkvConfig.Mini28 with { Depth = 2 });
        model.eval();
        var image = randn(1, 1, 28, 28, generator: new TorchSharp.torch.Generator(9));
        var (tokens, gradients, _) = GradCam.TokensAndGradients(model, image, 3);             // [49,96] each (the last block)
        var ln1 = GradCam.Find<nn.Module<Tensor, Tensor>>(model, "backbone.layers.1.ln1");
        float Logit(Tensor replacement)
        {
            var hook = ln1.register_forward_hook((_, _, _) => replacement.unsqueeze(0).alias());
            try
            {
                using var noGrad = no_grad();
                return model.call(image)[0, 3].item<float>();
            }
            finally
            {
                hook.remove();
            }
        }
        const float eps = 1e-2f;
        foreach (var (n, c) in new[] { (0, 0), (17, 40), (48, 95) })
        {
            var plus = tokens.clone();
            plus[n, c] = plus[n, c] + eps;
            var minus = tokens.clone();
            minus[n, c] = minus[n, c] - eps;
            double numeric = (Logit(plus) - Logit(minus)) / (2.0 * eps);
            Assert.Equal(numeric, gradients[n, c].item<float>(), 3);
        }
    }
}
