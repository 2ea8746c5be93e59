namespace VisionRwkv.Explain;

/// <summary>How a saliency map is computed.</summary>
public enum SaliencyMethod
{
    /// <summary>Grad-CAM on the backbone's token map (Selvaraju et al. 2017): any token classifier.</summary>
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

    /// <summary>The block whose LayerNorm'd input Grad-CAM reads (null = the last, the convention for ViTs).</summary>
    public int? GradCamBlock { get; init; }

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
