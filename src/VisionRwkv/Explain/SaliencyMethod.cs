namespace VisionRwkv.Explain;

/// <summary>How a saliency map is computed.</summary>
public enum SaliencyMethod
{
    /// <summary>Grad-CAM on the backbone's token map (Selvaraju et al. 2017; by default its element-wise form): any token classifier.</summary>
    GradCam,

    /// <summary>The last block's explicit Bi-WKV mixing weights, no gradients: Vision-RWKV only.</summary>
    Wkv,

    /// <summary>Occlusion sensitivity (Zeiler and Fergus 2014): the model-agnostic reference.</summary>
    Occlusion,
}

/// <summary>How <see cref="WkvAttribution"/> weighs the C channels of the last Bi-WKV.</summary>
public enum WkvWeighting
{
    /// <summary>
    /// Every channel alike: the share of the pooled WKV output each token supplies, averaged over channels. It does
    /// not depend on the label.
    /// </summary>
    Mixing,

    /// <summary>
    /// Each channel's share times the token's value in it, weighed by the label's linear relevance of the channel
    /// (the head and final norm read back through the block's output projection): the label's logit share.
    /// </summary>
    Label,
}

/// <summary>What Grad-CAM differentiates.</summary>
public enum GradCamTarget
{
    /// <summary>The raw logit z_label (Selvaraju et al.'s class score).</summary>
    Logit,

    /// <summary>
    /// The label's log-odds: the logit itself for sigmoid (multi-label) models; for softmax models
    /// z_label - logsumexp_{j≠label} z_j, the logit of p_label. What all classes share cancels, so the map shows why
    /// this label and not the others; it does not vanish when p_label rounds to 1, as the gradient of p_label would.
    /// </summary>
    LogOdds,
}

/// <summary>How Grad-CAM combines a token's activations A[n,·] with the gradients G = ∂score/∂A.</summary>
public enum GradCamWeighting
{
    /// <summary>
    /// Per token, Σ_c G[n,c]·A[n,c]: HiResCAM (Draelos and Carin 2020), Grad-CAM without the spatial averaging of the
    /// gradients, so each token is weighed by its own gradient. The default: in a bidirectional model the gradient
    /// reaching each token differs (every block mixes all tokens), and averaging it away loses where it came from.
    /// </summary>
    Element,

    /// <summary>Σ_c α_c·A[n,c] with α_c = mean_n G[n,c]: Selvaraju et al.'s Grad-CAM, as written for CNNs.</summary>
    Channel,
}

/// <summary>Which part of the signed Grad-CAM sum a map shows.</summary>
public enum GradCamSign
{
    /// <summary>
    /// |·|, the size of each token's first-order term. The default: the target layer is a LayerNorm output, centred per
    /// token, and the sign of the evidence tokens' terms changed from image to image on the tests' evidence task
    /// (README, "Saliency": ReLU pointed at the evidence less often).
    /// </summary>
    Magnitude,

    /// <summary>ReLU(·), the tokens that raise the score: Grad-CAM's original convention.</summary>
    Positive,
}

/// <summary>Settings of the saliency methods; the defaults suit the registry's models.</summary>
public sealed record SaliencyOptions
{
    /// <summary>Occlusion window side in pixels; null = the model's patch size (one token).</summary>
    public int? OcclusionWindow { get; init; }

    /// <summary>Occlusion stride in pixels; null = half the window (each pixel covered by up to four windows).</summary>
    public int? OcclusionStride { get; init; }

    /// <summary>Value the occluded window is set to, in normalised units: 0 is the data set's mean colour.</summary>
    public float OcclusionBaseline { get; init; }

    /// <summary>Occluded copies per forward pass.</summary>
    public int OcclusionBatch { get; init; } = 64;

    /// <summary>What Grad-CAM differentiates.</summary>
    public GradCamTarget GradCamTarget { get; init; } = GradCamTarget.Logit;

    /// <summary>
    /// The block whose LayerNorm'd input Grad-CAM reads: -1 (the default) is the last, the convention for ViTs in
    /// pytorch-grad-cam; negative counts from the end, 0 is the first.
    /// </summary>
    public int GradCamBlock { get; init; } = -1;

    /// <summary>
    /// Vision-RWKV: carry the Grad-CAM map of the tokens entering the target block back to the image's patches through
    /// every earlier block's Bi-WKV mixing, as the WKV map does (default); false shows those tokens' map as it is.
    /// </summary>
    public bool GradCamRollout { get; init; } = true;

    /// <summary>How Grad-CAM weighs activations by gradients.</summary>
    public GradCamWeighting GradCamWeighting { get; init; } = GradCamWeighting.Element;

    /// <summary>Which part of the signed Grad-CAM sum the map shows.</summary>
    public GradCamSign GradCamSign { get; init; } = GradCamSign.Magnitude;

    /// <summary>Selvaraju et al.'s Grad-CAM as pytorch-grad-cam applies it to ViTs: channel weights, ReLU, the last block, no rollout.</summary>
    public SaliencyOptions ClassicGradCam() => this with
    {
        GradCamWeighting = GradCamWeighting.Channel, GradCamSign = GradCamSign.Positive, GradCamBlock = -1, GradCamRollout = false,
    };

    /// <summary>Channel weighting of the WKV map.</summary>
    public WkvWeighting WkvWeighting { get; init; } = WkvWeighting.Label;

    /// <summary>
    /// Roll the WKV map back through every block's Bi-WKV to the image's patches (default), or stop at the tokens that
    /// enter the last block (false: the last block's shares alone). See <see cref="WkvAttribution"/>.
    /// </summary>
    public bool WkvRollout { get; init; } = true;

    /// <summary>Channels per chunk of the fast WKV map: its memory is Chunk·N² floats.</summary>
    public int WkvChannelChunk { get; init; } = 16;

    /// <summary>True when the model scores labels with sigmoids (multi-label); occlusion then reads sigmoid(logit).</summary>
    public bool MultiLabel { get; init; }

    public static SaliencyOptions Default { get; } = new();
}
