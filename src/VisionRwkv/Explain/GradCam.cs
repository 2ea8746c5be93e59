using TorchSharp;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017) on the backbone's token map: A = the patch tokens [N,C] at the target layer,
/// G = ∂logit/∂A; per-channel weights α_c = mean_n G[n,c]; map = ReLU(Σ_c α_c A[n,c]) on the patch grid, upsampled
/// bilinearly to the image and divided by its maximum.
/// Target layer: for Vision-RWKV, the last block's output (the head mean-pools its tokens after the final norm, so
/// every token reaches the logit). For ViT, the last block's input, as pytorch-grad-cam does for ViTs
/// (<c>model.blocks[-1].norm1</c>): the head reads only the class token, so the patch tokens after the last block
/// never reach the logit and their gradient is zero.
/// </summary>
public static class GradCam
{
    /// <summary>The map of logit label for image batch x, [1,C,H,W] on the model's device.</summary>
    /// <returns>[H,W] in [0,1].</returns>
    internal static float[,] Map(IImageClassifier model, Tensor x, int label)
    {
        using var scope = NewDisposeScope();
        var (tokens, gradients, grid) = TokensAndGradients(model, x, label);  // [N,C] each
        return ScaleToImage(tokens, gradients, grid, x.shape[2], x.shape[3]);
    }

    /// <summary>The Grad-CAM formula on given activations and gradients: [N,C], [N,C] → [H,W] in [0,1].</summary>
    public static float[,] ScaleToImage(Tensor tokens, Tensor gradients, PatchGrid grid, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(gradients);
        using var scope = NewDisposeScope();
        var alpha = gradients.mean([0]);                                       // [C]: spatial mean of the gradients
        var cam = nn.functional.relu(tokens.matmul(alpha));                    // [N]
        var up = Saliency.Upsample(cam.reshape(grid.Height, grid.Width), height, width);   // [H,W]
        return Saliency.ScaleByMax(up);
    }

    /// <summary>
    /// The target layer's patch tokens and the gradient of logit <paramref name="label"/> with respect to them, for
    /// image batch x of one image. The layer's tensor is replaced by a detached leaf in a forward hook, so the
    /// gradient is taken there and nothing before it is differentiated.
    /// </summary>
    internal static (Tensor Tokens, Tensor Gradients, PatchGrid Grid) TokensAndGradients(IImageClassifier model, Tensor x, int label)
    {
        var module = Saliency.AsModule(model);
        Tensor? leaf = null;
        PatchGrid? grid = null;
        int prefixTokens;
        Action removeHook;
        switch (model)
        {
            case VrwkvClassifier v:
                var after = Find<nn.Module<Tensor, PatchGrid, Tensor>>(v, $"backbone.layers.{v.LayerCount - 1}")
                    .register_forward_hook((_, _, g, y) =>
                    {
                        grid = g;
                        leaf = y.detach().requires_grad_(true).DetachFromDisposeScope();
                        return leaf;
                    });
                removeHook = () => after.remove();
                prefixTokens = 0;
                break;
            case VisionTransformer vit:
                var before = Find<nn.Module<Tensor, Tensor>>(vit, $"blocks.{vit.LayerCount - 1}")
                    .register_forward_pre_hook((_, input) =>
                    {
                        leaf = input.detach().requires_grad_(true).DetachFromDisposeScope();
                        return leaf;
                    });
                removeHook = () => before.remove();
                int p = vit.Config.PatchSize;
                grid = new PatchGrid((x.shape[2] + p - 1) / p, (x.shape[3] + p - 1) / p);
                prefixTokens = 1;   // the class token
                break;
            default:
                throw new NotSupportedException($"Grad-CAM: {model.Name} has no known token map (supported: Vision-RWKV and ViT classifiers)");
        }
        try
        {
            using var enabled = enable_grad();
            var logits = module.call(x);                                       // [1,K]
            if (leaf is null || grid is not PatchGrid g)
                throw new InvalidOperationException($"Grad-CAM: the target layer of {model.Name} did not run");
            var gradient = torch.autograd.grad([logits[0, label]], [leaf])[0]; // [1,P+N,C]
            var tokens = leaf.detach()[0].narrow(0, prefixTokens, g.Tokens);   // [N,C]
            return (tokens, gradient[0].narrow(0, prefixTokens, g.Tokens), g);
        }
        finally
        {
            removeHook();
            leaf?.Dispose();
        }
    }

    internal static T Find<T>(nn.Module model, string name) where T : nn.Module
    {
        foreach (var (n, m) in model.named_modules())
            if (n == name)
                return m as T ?? throw new InvalidOperationException($"{name} is a {m.GetType().Name}, not a {typeof(T).Name}");
        throw new InvalidOperationException($"the model has no module {name}");
    }
}
