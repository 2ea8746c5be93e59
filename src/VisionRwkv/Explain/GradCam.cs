using TorchSharp;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017) on the backbone's token map: A = the patch tokens [N,C] at the target layer,
/// G = ∂score/∂A; per-channel weights α_c = mean_n G[n,c]; map = ReLU(Σ_c α_c A[n,c]) on the patch grid, upsampled
/// bilinearly to the image and divided by its maximum. The score is the label's logit by default
/// (<see cref="GradCamTarget"/>).
/// Target layer: the tokens entering the last block's token mixing, after its LayerNorm, as pytorch-grad-cam does
/// for ViTs (<c>model.blocks[-1].norm1</c>): Vision-RWKV (pre-norm), the last block's ln1 output, which its Bi-WKV
/// mixes; post-norm Vision-RWKV, the last block's input (its norms sit on the branch outputs); ViT, the last block's
/// norm1 output (the head reads only the class token, so patch tokens after the last block never reach it).
/// Two other choices failed on a first version of the tests' synthetic pointing-game task (two classes, 40 held-out
/// images, 100% accuracy): before a LayerNorm the gradient of anything downstream is orthogonal to each token (LN
/// is invariant to a token's scale, so Σ_c G[n,c]·A[n,c] = 0), and the map taken at the last block's output peaked
/// on the evidence in 1 image and had its minimum there in 39; after the final norm (CAM: each token's share of the
/// score) it hit 0 of 40, as after the last global Bi-WKV mixing every token carries the class. At the last block's
/// ln1 output it hit 24 of 40 (60%).
/// </summary>
public static class GradCam
{
    /// <summary>The map of logit label for image batch x, [1,C,H,W] on the model's device.</summary>
    /// <returns>[H,W] in [0,1].</returns>
    internal static float[,] Map(IImageClassifier model, Tensor x, int label, SaliencyOptions options)
    {
        using var scope = NewDisposeScope();
        var (tokens, gradients, grid) = TokensAndGradients(model, x, label, Target(options, label), options.GradCamBlock);  // [N,C] each
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
    internal static (Tensor Tokens, Tensor Gradients, PatchGrid Grid) TokensAndGradients(IImageClassifier model, Tensor x, int label,
        Func<Tensor, Tensor>? target = null, int? block = null)
    {
        int Layer(int count) => block is int b
            ? (b >= 0 && b < count ? b : throw new ArgumentException($"Grad-CAM block {b}: the model has blocks 0..{count - 1}"))
            : count - 1;
        var module = Saliency.AsModule(model);
        Tensor? leaf = null;
        PatchGrid? grid = null;
        int prefixTokens;
        Action removeHook;
        // The model gets an alias of the leaf: blocks release the tensors they consume (Block disposes its ln1
        // output once the spatial mix has read it), and that must not dispose the handle we differentiate by.
        Func<Tensor, Tensor> capture = y =>
        {
            leaf = y.detach().requires_grad_(true).DetachFromDisposeScope();
            return leaf.alias();
        };
        switch (model)
        {
            case VrwkvClassifier v:
            {
                int p = v.Config.PatchSize;
                grid = new PatchGrid((x.shape[2] + p - 1) / p, (x.shape[3] + p - 1) / p);   // PatchEmbed pads to whole patches
                string last = $"backbone.layers.{Layer(v.LayerCount)}";
                if (!v.Config.PostNorm)
                {
                    var norm = Find<nn.Module<Tensor, Tensor>>(v, last + ".ln1").register_forward_hook((_, _, y) => capture(y));
                    removeHook = () => norm.remove();
                }
                else
                {
                    // Post-norm blocks normalise the branch output, not its input: the block's input is the token map.
                    var blockModule = Find<nn.Module<Tensor, PatchGrid, Tensor>>(v, last)
                        .register_forward_pre_hook((_, input, g) => (capture(input), g));
                    removeHook = () => blockModule.remove();
                }
                prefixTokens = 0;
                break;
            }
            case VisionTransformer vit:
            {
                var norm1 = Find<nn.Module<Tensor, Tensor>>(vit, $"blocks.{Layer(vit.LayerCount)}.norm1")
                    .register_forward_hook((_, _, y) => capture(y));
                removeHook = () => norm1.remove();
                int p = vit.Config.PatchSize;
                grid = new PatchGrid((x.shape[2] + p - 1) / p, (x.shape[3] + p - 1) / p);
                prefixTokens = 1;   // the class token
                break;
            }
            default:
                throw new NotSupportedException($"Grad-CAM: {model.Name} has no known token map (supported: Vision-RWKV and ViT classifiers)");
        }
        try
        {
            using var enabled = enable_grad();
            var logits = module.call(x);                                       // [1,K]
            if (leaf is null || grid is not PatchGrid g || leaf.shape[1] != prefixTokens + g.Tokens)
                throw new InvalidOperationException($"Grad-CAM: the target layer of {model.Name} did not run");
            var score = target is null ? logits[0, label] : target(logits[0]);
            var gradient = torch.autograd.grad([score], [leaf])[0];            // [1,P+N,C]
            var tokens = leaf.detach()[0].narrow(0, prefixTokens, g.Tokens);   // [N,C]
            return (tokens, gradient[0].narrow(0, prefixTokens, g.Tokens), g);
        }
        finally
        {
            removeHook();
            leaf?.Dispose();
        }
    }

    /// <summary>The scalar Grad-CAM differentiates, from one image's logits [K].</summary>
    internal static Func<Tensor, Tensor>? Target(SaliencyOptions options, int label)
    {
        if (options.GradCamTarget == GradCamTarget.Logit || options.MultiLabel) return null;
        return z =>
        {
            var others = cat([z.narrow(0, 0, label), z.narrow(0, label + 1, z.shape[0] - label - 1)]);   // [K-1]
            return others.shape[0] == 0 ? z[label] : z[label] - others.logsumexp(0);
        };
    }

    internal static T Find<T>(nn.Module model, string name) where T : nn.Module
    {
        foreach (var (n, m) in model.named_modules())
            if (n == name)
                return m as T ?? throw new InvalidOperationException($"{name} is a {m.GetType().Name}, not a {typeof(T).Name}");
        throw new InvalidOperationException($"the model has no module {name}");
    }
}
