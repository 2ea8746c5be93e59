using VisionRwkv.Models;
using VisionRwkv.Models.Vit;

namespace VisionRwkv.Benchmarks;

/// <summary>Benchmark mode: inference (forward only) or a training step (forward, loss, backward, optimizer step).</summary>
public enum BenchMode { Infer, Train }

/// <summary>
/// Analytic FLOPs of one image through a model, split by kind. Matmuls (linear layers, the patch-embedding conv, the
/// head) count 2·M·N·K; ViT attention scores and values count 4·N²·C per layer; the Bi-WKV counts 13·T·C per layer
/// (the paper's Eq. 8 estimate). Element-wise work (norms, Q-shift, activations, softmax) is not counted, as in the
/// usual fvcore-style figures the papers quote.
/// </summary>
/// <param name="Matmul">Linear, conv and head FLOPs.</param>
/// <param name="Attention">Self-attention score and value FLOPs (ViT only).</param>
/// <param name="Wkv">Bi-WKV FLOPs (Vision-RWKV only).</param>
/// <param name="Tokens">Tokens the blocks see (ViT includes the class token).</param>
public sealed record ModelFlops(double Matmul, double Attention, double Wkv, long Tokens)
{
    /// <summary>Forward FLOPs per image.</summary>
    public double Forward => Matmul + Attention + Wkv;

    /// <summary>FLOPs per image for a mode: a training step counts three forwards (forward + backward ≈ 2× forward).</summary>
    public double For(BenchMode mode) => mode == BenchMode.Train ? 3 * Forward : Forward;
}

/// <summary>Counts model FLOPs from a config and an input resolution, without building the model.</summary>
public static class FlopCounter
{
    /// <summary>Bi-WKV FLOPs per token and channel for inference (Vision-RWKV paper, Eq. 8).</summary>
    public const double WkvFlopsPerTokenChannel = 13;

    /// <summary>Vision-RWKV on a height×width image: the patch grid is padded up to a multiple of the patch size.</summary>
    public static ModelFlops Count(VrwkvConfig cfg, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        CheckSize(height, width);
        long p = cfg.PatchSize;
        long t = CeilDiv(height, p) * CeilDiv(width, p);
        double c = cfg.EmbedDims, hidden = cfg.HiddenDims;
        long kernel = cfg.PatchKernel ?? p;
        double patch = Mm(t, c, cfg.InChannels * kernel * kernel);
        // Spatial mix: key, value, receptance, output (C→C each). Channel mix: key C→hidden, value hidden→C, receptance C→C.
        double spatial = 4 * Mm(t, c, c);
        double channel = Mm(t, hidden, c) + Mm(t, c, hidden) + Mm(t, c, c);
        double head = cfg.HeadHidden > 0
            ? Mm(1, cfg.HeadHidden, c) + Mm(1, cfg.NumClasses, cfg.HeadHidden)
            : Mm(1, cfg.NumClasses, c);
        double matmul = patch + cfg.Depth * (spatial + channel) + head;
        double wkv = cfg.Depth * WkvFlopsPerTokenChannel * t * c;
        return new ModelFlops(matmul, 0, wkv, t);
    }

    /// <summary>ViT on a height×width image: the conv drops a partial last patch; one class token joins the patches.</summary>
    public static ModelFlops Count(VitConfig cfg, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        CheckSize(height, width);
        long p = cfg.PatchSize;
        long patches = (height / p) * (width / p);
        long n = patches + 1;
        double c = cfg.EmbedDim, hidden = (int)(cfg.EmbedDim * cfg.MlpRatio);
        double patch = Mm(patches, c, cfg.InChannels * p * p);
        double perLayer = Mm(n, 3 * c, c) + Mm(n, c, c) + Mm(n, hidden, c) + Mm(n, c, hidden);
        double head = Mm(1, cfg.NumClasses, c);
        double attention = cfg.Depth * 4.0 * n * n * c;
        return new ModelFlops(patch + cfg.Depth * perLayer + head, attention, 0, n);
    }

    /// <summary>FLOPs of a built model (a <see cref="VrwkvClassifier"/> or a <see cref="VisionTransformer"/>).</summary>
    public static ModelFlops Count(IImageClassifier model, int height, int width) => model switch
    {
        VrwkvClassifier v => Count(v.Config, height, width),
        VisionTransformer v => Count(v.Config, height, width),
        null => throw new ArgumentNullException(nameof(model)),
        _ => throw new NotSupportedException($"no FLOP count for model type {model.GetType().Name}"),
    };

    /// <summary>A matmul of [m,k]·[k,n]: m·n multiply-adds, 2·m·n·k FLOPs.</summary>
    private static double Mm(double m, double n, double k) => 2 * m * n * k;

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    private static void CheckSize(int height, int width)
    {
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"image size must be positive, got {height}x{width}");
    }
}
