using TorchSharp;
using VisionRwkv.Layers;
using VisionRwkv.Models;
using VisionRwkv.Models.Vit;
using static TorchSharp.torch;

namespace VisionRwkv.Explain;

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017) on the backbone's token map: A = the patch tokens [N,C] at the target layer,
/// G = ∂score/∂A. The map per token is Σ_c G[n,c]·A[n,c] by default (<see cref="GradCamWeighting.Element"/>, HiResCAM,
/// Draelos and Carin 2020) or Selvaraju's Σ_c α_c·A[n,c] with α_c = mean_n G[n,c] (<see cref="GradCamWeighting.Channel"/>),
/// then its magnitude (default) or ReLU (<see cref="GradCamSign"/>). On a Vision-RWKV it is then carried back from the
/// tokens entering the target block to the image's patches through every earlier block's channel-averaged Bi-WKV mixing
/// matrix (<see cref="SaliencyOptions.GradCamRollout"/>; <see cref="WkvAttribution.Rollback"/>, the WKV map's rule),
/// upsampled bilinearly to the image and divided by its maximum. The score is the label's logit by default
/// (<see cref="GradCamTarget"/>).
/// Target layer: the tokens entering a block's token mixing, after its LayerNorm (Vision-RWKV pre-norm: the block's ln1
/// output; post-norm: the block's input, as its norms sit on the branch outputs; ViT: the block's norm1 output, class
/// token dropped), of the last block by default, as pytorch-grad-cam does for ViTs.
/// Why the defaults differ from pytorch-grad-cam's ViT recipe (channel weights, ReLU, no rollout): every bidirectional
/// block mixes all tokens, so the tokens entering the last block each carry the whole image, and the gradient reaching
/// each differs, so averaging it over tokens (α) throws away where it came from. On the tests' evidence task with a
/// label-free distractor (Explain/SanityTests; README "Saliency" has the table over seeds) the classic recipe pointed
/// at the evidence in 0-56% of images, element-wise magnitude with the rollout in 90-100%, and a map at the first
/// block (before all mixing) no better than the image's brightness, which cannot tell the evidence from the distractor.
/// Before a LayerNorm the element-wise sum is zero (LN is invariant to a token's scale, so Σ_c G[n,c]·A[n,c] = 0); after
/// the final norm every token carries the class.
/// </summary>
public static class GradCam
{
    /// <summary>The map of logit label for image batch x, [1,C,H,W] on the model's device.</summary>
    /// <returns>[H,W] in [0,1].</returns>
    internal static float[,] Map(IImageClassifier model, Tensor x, int label, SaliencyOptions options)
    {
        using var scope = NewDisposeScope();
        var (tokens, gradients, grid) = TokensAndGradients(model, x, label, Target(options, label), options.GradCamBlock);  // [N,C] each
        var cam = TokenMap(tokens, gradients, options.GradCamWeighting, options.GradCamSign);   // [N]: tokens entering the block
        if (options.GradCamRollout && model is VrwkvClassifier v)
        {
            // Carried back to the image's patches through every earlier block's Bi-WKV, as the WKV map is.
            int block = BlockIndex(options.GradCamBlock, v.LayerCount);
            if (block > 0)
                cam = WkvAttribution.RollBackThrough(cam, WkvAttribution.BlockInputs(v, x).Blocks, block, options.WkvChannelChunk);
        }
        var up = Saliency.Upsample(cam.reshape(grid.Height, grid.Width), x.shape[2], x.shape[3]);   // [H,W]
        return Saliency.ScaleByMax(up);
    }

    /// <summary>A block index from 0..count-1, or counted from the end when negative (-1 = the last block).</summary>
    internal static int BlockIndex(int block, int count) =>
        block >= 0 && block < count ? block
        : block < 0 && block >= -count ? count + block
        : throw new ArgumentException($"Grad-CAM block {block}: the model has blocks 0..{count - 1} (or -1..-{count} from the end)");

    /// <summary>The Grad-CAM formula on given activations and gradients: [N,C], [N,C] → [H,W] in [0,1].</summary>
    public static float[,] ScaleToImage(Tensor tokens, Tensor gradients, PatchGrid grid, long height, long width,
        GradCamWeighting weighting = GradCamWeighting.Element, GradCamSign sign = GradCamSign.Magnitude)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(gradients);
        using var scope = NewDisposeScope();
        var cam = TokenMap(tokens, gradients, weighting, sign);                // [N]
        var up = Saliency.Upsample(cam.reshape(grid.Height, grid.Width), height, width);   // [H,W]
        return Saliency.ScaleByMax(up);
    }

    /// <summary>The map over tokens before upsampling: [N,C], [N,C] → [N], ≥ 0.</summary>
    public static Tensor TokenMap(Tensor tokens, Tensor gradients, GradCamWeighting weighting, GradCamSign sign)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(gradients);
        using var scope = NewDisposeScope();
        var signed = weighting switch
        {
            GradCamWeighting.Element => (tokens * gradients).sum(1),                      // [N]: Σ_c G[n,c]·A[n,c]
            GradCamWeighting.Channel => tokens.matmul(gradients.mean([0])),             // [N]: Σ_c α_c·A[n,c]
            _ => throw new ArgumentOutOfRangeException(nameof(weighting), weighting, null),
        };
        var map = sign switch
        {
            GradCamSign.Magnitude => signed.abs(),
            GradCamSign.Positive => nn.functional.relu(signed),
            _ => throw new ArgumentOutOfRangeException(nameof(sign), sign, null),
        };
        return map.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The target layer's patch tokens and the gradient of logit <paramref name="label"/> with respect to them, for
    /// image batch x of one image. The layer's tensor is replaced by a detached leaf in a forward hook, so the
    /// gradient is taken there and nothing before it is differentiated.
    /// </summary>
    internal static (Tensor Tokens, Tensor Gradients, PatchGrid Grid) TokensAndGradients(IImageClassifier model, Tensor x, int label,
        Func<Tensor, Tensor>? target = null, int block = -1)
    {
        int Layer(int count) => BlockIndex(block, count);
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
